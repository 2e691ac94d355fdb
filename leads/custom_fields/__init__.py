"""Custom fields per record (lead, company, deal), defined by an admin: the settings page, the values' checks by
type, and the pieces the record pages, the lead list, the CSV import and export, the API and the segments use.
The definitions are leads.models.FieldDefinition; the values are each record's `custom` JSON column."""
