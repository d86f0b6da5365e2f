"""Colleagues' presence: `/who` (read it now) and `/watch` (tell me when it changes), at tenant scale."""
