package archive

// Store is the store the writer archives to, for the operator's readers of
// what it archived (the incidents a report covers that retention removed
// from the cluster).
func (w *Writer) Store() Store { return w.store }
