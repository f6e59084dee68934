"""Pianqu's planning algorithms: pure functions and estimators over GeoDataFrames."""
