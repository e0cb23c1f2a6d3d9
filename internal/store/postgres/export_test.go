package postgres

// PatchColumns exposes the property -> column allow-list to package postgres_test.
func PatchColumns() map[string]string {
	m := make(map[string]string, len(patchColumns))
	for prop, c := range patchColumns {
		m[prop] = c.name
	}
	return m
}
