"""The raw corpora the offline tasks are built from: a reader per format (Brown, SWORD Bibles and commentaries,
Austen's novels, the Ding dictionary, plain text) and `fetch`, which brings each into `$BERTGEN_HOME/raw/`."""
