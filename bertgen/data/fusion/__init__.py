"""DiscoFuse-style sentence fusion on real text: a tagger for untagged text (`tagger`), clause tests (`clauses`)
and the rules that join two sentences into one (`rules`)."""
