"""Tests of the Voronoi tier plug-in (a package, so that pytest puts the plug-in's folder on the path)."""
