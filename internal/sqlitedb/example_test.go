package sqlitedb_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/kitshop/shop/internal/sqlitedb"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "sqlitedb-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// In a service the migrations are an embed.FS of migrations/*.sql.
	migrations := fstest.MapFS{
		"0001_init.sql": {Data: []byte(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE);`)},
	}
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "notes.db"), migrations)
	if err != nil {
		panic(err)
	}
	defer db.Close()

	// Writes go through the writer pool, in a transaction.
	err = db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO notes(body) VALUES (?)`, "hello")
		return err
	})
	fmt.Println(err)

	_, err = db.W.ExecContext(ctx, `INSERT INTO notes(body) VALUES (?)`, "hello")
	fmt.Println(sqlitedb.IsUniqueViolation(err))

	// Reads can use the reader pool.
	var n int
	db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM notes`).Scan(&n)
	fmt.Println(n)
	// Output:
	// <nil>
	// true
	// 1
}
