"""Modality engines (face, iris, finger), the Template format and score fusion."""
