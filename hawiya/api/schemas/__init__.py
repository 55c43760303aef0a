"""Response models of the REST API, one module per service, and the shared error body.

Identity and check-in results live with their services (:mod:`hawiya.identity.results`,
:mod:`hawiya.elections.results`); these modules describe the other services' outputs.
"""
