"""The web dashboard's tests: a package, so that their fixtures module is `web.conftest` and never another folder's
`conftest` when several test folders run together."""
