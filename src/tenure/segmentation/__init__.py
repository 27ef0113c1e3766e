"""Segments: RFM scores and named RFM segments, and the three segments a
business speaks of (high value, at risk, new), with sizes and movements."""
