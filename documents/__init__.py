"""Documents for legal staff (an adapter, like notifications/): letters as Word files (docxtpl) and the
court-ready case file as a PDF (WeasyPrint). They render plain values handed to them by the entrypoints; they
read no database and import only the domain."""
