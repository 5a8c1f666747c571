"""Device profiles as data: one ``<kind>.yaml`` per kind (a package so wheels ship the files)."""
