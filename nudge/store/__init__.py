"""The store: the engine and its transactions, the tables, the migrations, and the file locks beside it."""
