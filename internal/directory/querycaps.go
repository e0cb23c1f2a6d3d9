package directory

// QueryCapability states what the store's query engine accepts for one
// property of a collection: the $filter operators, whether $orderby may
// use it, and whether $search matches it. The store derives these from its
// own allow-list (postgres.QueryCapabilities), so whatever publishes them
// ($metadata's Capabilities annotations) cannot disagree with what a query
// is answered with.
type QueryCapability struct {
	// Property is the Graph name, canonical spelling.
	Property string
	// Operators lists the $filter operators and functions the property
	// takes ("eq", "ne", "in", "gt", "startsWith", "any", ...); none means
	// it cannot be filtered.
	Operators []string
	// Sortable properties may appear in $orderby.
	Sortable bool
	// Searchable properties are matched by $search.
	Searchable bool
	// Collection properties are filtered through any()/all() lambdas;
	// Operators then lists what the lambda body may use.
	Collection bool
}

// QueryCapabilities are the query facts of the collections graphdir lists.
type QueryCapabilities struct {
	// Users is /users (and /users/$count).
	Users []QueryCapability
	// DeletedUsers is /directory/deletedItems/microsoft.graph.user.
	DeletedUsers []QueryCapability
	// Applications is /applications (and /applications/$count).
	Applications []QueryCapability
}
