// Command bare is the yardstick the shop's speed is measured against: the
// shop's two hot paths with no framework, middleware, validation or auth, on
// the same SQLite driver and settings (WAL, synchronous NORMAL, one writer).
//
//	GET  /products/{id}  one prepared point read (ids p1 ... p1000)
//	POST /orders         {"product_id":"p7","quantity":1}: one transaction with a
//	                     conditional stock decrement and an insert
//
// examples/bench starts it beside the shop and drives both the same way.
package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	_ "modernc.org/sqlite"
)

type product struct {
	ID       string `json:"id"`
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Price    int64  `json:"price"`
	Currency string `json:"currency"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5905", "listen address")
	dir := flag.String("dir", os.TempDir(), "directory for the database file")
	flag.Parse()
	db := open(filepath.Join(*dir, "bare.db"))
	get, err := db.Prepare(`SELECT id, sku, name, price, currency FROM products WHERE id = ?`)
	check(err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		var p product
		if err := get.QueryRow(r.PathValue("id")).Scan(&p.ID, &p.SKU, &p.Name, &p.Price, &p.Currency); err != nil {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p)
	})
	var seq atomic.Int64
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ProductID string `json:"product_id"`
			Quantity  int    `json:"quantity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
			return
		}
		tx, err := db.Begin()
		check(err)
		defer tx.Rollback()
		res, err := tx.Exec(`UPDATE stock SET on_hand = on_hand - ? WHERE product_id = ? AND on_hand >= ?`, in.Quantity, in.ProductID, in.Quantity)
		check(err)
		if n, _ := res.RowsAffected(); n == 0 {
			http.Error(w, `{"error":"insufficient stock"}`, http.StatusConflict)
			return
		}
		id := fmt.Sprintf("o%d", seq.Add(1))
		_, err = tx.Exec(`INSERT INTO orders(id, product_id, quantity) VALUES (?, ?, ?)`, id, in.ProductID, in.Quantity)
		check(err)
		check(tx.Commit())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"id": id, "status": "pending"})
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}

func open(path string) *sql.DB {
	os.Remove(path)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
	check(err)
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		`CREATE TABLE products(id TEXT PRIMARY KEY, sku TEXT UNIQUE, name TEXT, price INTEGER, currency TEXT)`,
		`CREATE TABLE stock(product_id TEXT PRIMARY KEY, on_hand INTEGER)`,
		`CREATE TABLE orders(id TEXT PRIMARY KEY, product_id TEXT, quantity INTEGER)`,
	} {
		_, err := db.Exec(s)
		check(err)
	}
	for i := 1; i <= 1000; i++ {
		_, err := db.Exec(`INSERT INTO products VALUES (?, ?, ?, ?, 'USD')`, fmt.Sprintf("p%d", i), fmt.Sprintf("SKU-%d", i), fmt.Sprintf("Product %d", i), 100*i)
		check(err)
		_, err = db.Exec(`INSERT INTO stock VALUES (?, 1000000000)`, fmt.Sprintf("p%d", i))
		check(err)
	}
	return db
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
