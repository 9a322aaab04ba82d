"""Tables, the database, migrations and the pure rules about the data."""
