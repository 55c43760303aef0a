"""Identity services: enroll with de-duplication, verify, identify, adjudicate."""
