package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
)

func TestSearchWords(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"hood", []string{"hood"}},
		{"  Blue  HOODIE ", []string{"Blue", "HOODIE"}},
		{"T-shirt", []string{"T", "shirt"}},
		{`"NEAR(a* b)" -c`, []string{"NEAR", "a", "b", "c"}},
		{"{name}: x^y", []string{"name", "x", "y"}},
		{"100% cotton", []string{"100", "cotton"}},
		{"snake_case", []string{"snake", "case"}},
		{"café Café", []string{"café", "Café"}},
		{"cafe\u0301", []string{"café"}},         // normal form C: one letter
		{"a\u20dd b", []string{"a", "b"}},        // a mark left over separates
		{"mug\ue000tea", []string{"mug", "tea"}}, // private use separates
		{"\xffmug\x00", []string{"mug"}},
		{"咖啡 кофе", []string{"咖啡", "кофе"}},
		{"½ ²", []string{"½", "²"}},
	} {
		if got := SearchWords(tc.text); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("SearchWords(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// Every term of a full-text query must be one token of the unicode61
// tokenizer: the index has no positions (detail=column), so a quoted term
// the tokenizer splits in two is a phrase query, which fails. This checks
// every letter and digit Go knows against the tokenizer itself: it indexes
// "q<letter>q" for each, 512 to a row, and a row where "q" alone became a
// token holds a letter the tokenizer splits at, which the row's letters
// then show one by one.
func TestFTSTermsAreSingleTokens(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2')`); err != nil {
		t.Fatal(err)
	}
	var letters []rune
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if (unicode.IsLetter(r) || unicode.IsNumber(r)) && !unicode61Separator(r) {
			letters = append(letters, r)
		}
	}
	splits := func(rows [][]rune) map[int]bool {
		t.Helper()
		if _, err := db.ExecContext(ctx, `DELETE FROM t`); err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			var b strings.Builder
			for _, r := range row {
				b.WriteString("q" + string(r) + "q ")
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO t (rowid, x) VALUES (?, ?)`, i+1, b.String()); err != nil {
				t.Fatal(err)
			}
		}
		found, err := db.QueryContext(ctx, `SELECT rowid FROM t WHERE t MATCH 'q'`)
		if err != nil {
			t.Fatal(err)
		}
		defer found.Close()
		split := map[int]bool{}
		for found.Next() {
			var id int
			if err := found.Scan(&id); err != nil {
				t.Fatal(err)
			}
			split[id-1] = true
		}
		return split
	}
	var rows [][]rune
	for i := 0; i < len(letters); i += 512 {
		rows = append(rows, letters[i:min(i+512, len(letters))])
	}
	var suspects [][]rune
	for i := range splits(rows) {
		for _, r := range rows[i] {
			suspects = append(suspects, []rune{r})
		}
	}
	var bad []string
	for i := range splits(suspects) {
		bad = append(bad, fmt.Sprintf("%U", suspects[i][0]))
	}
	slices.Sort(bad)
	if len(bad) > 0 {
		t.Fatalf("of %d letters and digits, unicode61 splits words at %d, which unicode61Separator must list: %v", len(letters), len(bad), bad)
	}
	// And the ones listed are separators indeed.
	for _, r := range []rune{0x19B0, 0x19C0, 0x19C8, 0x19C9, 0x1CF2, 0x1CF3} {
		if got := ftsTerms([]string{"ab" + string(r) + "cd"}); fmt.Sprint(got) != "[ab cd]" {
			t.Errorf("ftsTerms splits ab%Ucd into %q", r, got)
		}
		if got := splits([][]rune{{r}}); !got[0] {
			t.Errorf("unicode61 keeps %U in a word: unicode61Separator need not list it", r)
		}
	}
}

// searchIDs runs one search on the store and returns the IDs of the page.
func searchIDs(t *testing.T, st *SQLiteStore, q SearchQuery) []string {
	t.Helper()
	page, err := st.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return ids(page.Items)
}

// The SQLite store's tiers: whole words in the name or SKU, then whole
// words needing the description, then the last word as the start of a
// longer one; within a tier, in the order the products were added.
func TestSearchTiers(t *testing.T) {
	svc, st := newTestService(t)
	mk := func(sku, name, description string) string {
		return mustCreate(t, svc, NewProduct{SKU: sku, Name: name, Description: description, Price: 1, Currency: "EUR"}).ID
	}
	hoodie := mk("A-1", "Hoodie", "Warm.")
	capeDesc := mk("A-2", "Rain cape", "With a hood.")
	hoodName := mk("A-3", "Hood", "Detachable.")
	hoodSKU := mk("HOOD-9", "Collar", "Fleece.")
	hoodieDesc := mk("A-5", "Sweater", "Like a hoodie.")
	hoodName2 := mk("A-6", "Big hood", "Lined.")
	mk("A-7", "Scarf", "Wool.")

	want := []string{hoodName, hoodSKU, hoodName2, capeDesc, hoodie, hoodieDesc}
	for _, limit := range []int{1, 2, 5, 6, 100} {
		var got []string
		q := SearchQuery{Words: []string{"hood"}, Limit: limit}
		for pages := 0; ; pages++ {
			page, err := st.Search(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(page.Items)...)
			if page.Next == "" {
				break
			}
			q.After = page.Next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
	}
}

func TestSearchCursor(t *testing.T) {
	svc, st := newTestService(t)
	for i := range 3 {
		mustCreate(t, svc, validProduct(fmt.Sprintf("C-%d", i)))
	}
	page, err := st.Search(context.Background(), SearchQuery{Words: []string{"mug"}, Limit: 2})
	if err != nil || len(page.Items) != 2 || page.Next != "0:2" {
		t.Fatalf("first page: %v, next %q, %v", ids(page.Items), page.Next, err)
	}
	for _, bad := range []string{"x", "0", "0:", ":1", "3:1", "-1:1", "0:-1", "0:1:2", "00:1", "0:01", "0:1.5", " 0:1", "0:99999999999999999999"} {
		_, err := st.Search(context.Background(), SearchQuery{Words: []string{"mug"}, Limit: 2, After: bad})
		wantErr(t, err, shop.ErrInvalid, "invalid_cursor")
	}
	// A position past the end is an empty last page.
	page, err = st.Search(context.Background(), SearchQuery{Words: []string{"mug"}, Limit: 2, After: "2:999"})
	if err != nil || page.Items == nil || len(page.Items) != 0 || page.Next != "" {
		t.Fatalf("past the end: %#v %v", page, err)
	}
}

// Hostile searches through the HTTP handler: every one answers 200 with a
// page, or 400 invalid_q when too long; never 500.
func TestSearchHTTPHostile(t *testing.T) {
	f := newHTTPFixture(t)
	hoodie := mustCreate(t, f.svc, NewProduct{SKU: "H-1", Name: "Blue Hoodie", Description: "Cotton.", Price: 1, Currency: "EUR", Category: "apparel"})
	mustCreate(t, f.svc, NewProduct{SKU: "M-1", Name: "Café Mug", Description: "Stoneware.", Price: 1, Currency: "EUR", Category: "kitchen"})
	// Each with whether it finds the hoodie: its words are what it finds.
	hostile := []struct {
		q      string
		hoodie bool
	}{
		{`"`, false}, {`""`, false}, {`"hoodie`, true}, {`hoodie"`, true}, {`"blue hoodie"`, true},
		{`*`, false}, {`hood*`, true}, {`*hood`, true}, {`ho*die`, false},
		{`NEAR`, false}, {`NEAR(hoodie blue)`, false}, {`NEAR("hoodie" "blue", 1)`, false},
		{`-hoodie`, true}, {`hoodie -blue`, true}, {`hoodie NOT blue`, false}, {`blue OR hoodie`, false}, {`blue AND hoodie`, false},
		{`(`, false}, {`)`, false}, {`(hoodie`, true}, {`hoodie)`, true}, {`((blue) hoodie`, true},
		{`name:hoodie`, false}, {`{name sku}:hoodie`, false}, {`hoodie:`, true}, {`^hoodie`, true}, {`+hoodie`, true},
		{`- : * ^ " ( ) { } + , .`, false}, {`'`, false}, {`\`, false}, {`%`, false}, {`_`, false},
		{`hoodie'; DROP TABLE products; --`, false},
		{"\x00", false}, {"hoodie\x00", true}, {"\xff\xfe", false}, {"\xffhoodie", true},
		{"\ue000", false}, {"\ue000" + "6170706172656c", false}, // the category's index token
		{"hoodie\u19b0", true}, // a letter unicode61 takes for a separator
		{"e\u0301", false},
		{strings.Repeat("(", MaxQueryLen), false},
		{strings.Repeat(`"a`, MaxQueryLen/2), false},
		{strings.Repeat("hoodie ", MaxQueryLen/7), true},
	}
	for _, tc := range hostile {
		for _, category := range []string{"", "apparel"} {
			path := "/products?limit=1&q=" + url.QueryEscape(tc.q)
			if category != "" {
				path += "&category=" + category
			}
			status, _, body := f.do(t, "GET", path, "", "")
			var page struct {
				Items []Product `json:"items"`
			}
			if status != 200 || json.Unmarshal([]byte(body), &page) != nil || page.Items == nil {
				t.Errorf("q %q category %q: %d %s, want 200 and a page", tc.q, category, status, body)
				continue
			}
			found := len(page.Items) == 1 && page.Items[0].ID == hoodie.ID
			if found != tc.hoodie || len(page.Items) > 1 {
				t.Errorf("q %q category %q: %s; want the hoodie: %v", tc.q, category, body, tc.hoodie)
			}
		}
	}
	for _, n := range []int{MaxQueryLen + 1, 10 << 10} {
		status, _, body := f.do(t, "GET", "/products?q="+url.QueryEscape(strings.Repeat(`"`, n)), "", "")
		if status != 400 || errorCode(t, body) != CodeInvalidQuery {
			t.Errorf("q of %d quotes: %d %s, want 400 %s", n, status, body, CodeInvalidQuery)
		}
	}
	// A list cursor is no search cursor.
	status, _, body := f.do(t, "GET", "/products?q=hoodie&cursor="+shop.EncodeCursor(hoodie.ID), "", "")
	if status != 400 || errorCode(t, body) != "invalid_cursor" {
		t.Errorf("search with a list cursor: %d %s", status, body)
	}
}

// countRows counts the rows a query returns.
func countRows(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// wantIndexInStep checks that both full-text indexes hold exactly the
// products, each under its search key, and pass FTS5's integrity check.
func wantIndexInStep(t *testing.T, db *sql.DB) {
	t.Helper()
	products := countRows(t, db, `SELECT COUNT(*) FROM products`)
	keys := countRows(t, db, `SELECT COUNT(DISTINCT search_key) FROM products`)
	if keys != products {
		t.Fatalf("%d products with %d distinct search keys", products, keys)
	}
	for _, table := range []string{"product_search", "product_name_search"} {
		if _, err := db.Exec(`INSERT INTO ` + table + ` (` + table + `) VALUES ('integrity-check')`); err != nil {
			t.Fatalf("%s integrity-check: %v", table, err)
		}
		// Every product by its SKU's first word, which the tests make unique.
		rows, err := db.Query(`SELECT search_key, sku FROM products`)
		if err != nil {
			t.Fatal(err)
		}
		var pairs [][2]any
		for rows.Next() {
			var key int64
			var sku string
			if err := rows.Scan(&key, &sku); err != nil {
				t.Fatal(err)
			}
			pairs = append(pairs, [2]any{key, sku})
		}
		rows.Close()
		for _, p := range pairs {
			var found []int64
			r, err := db.Query(`SELECT rowid FROM `+table+` WHERE `+table+` MATCH ?`, `"`+SearchWords(p[1].(string))[0]+`"`)
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				var k int64
				r.Scan(&k)
				found = append(found, k)
			}
			r.Close()
			if fmt.Sprint(found) != fmt.Sprint([]int64{p[0].(int64)}) {
				t.Errorf("%s: SKU %s finds keys %v, want its key %d alone", table, p[1], found, p[0])
			}
		}
	}
	if n := countRows(t, db, `SELECT COUNT(*) FROM product_search WHERE product_search MATCH 'zzgone'`); n != 0 {
		t.Errorf("a deleted or renamed product's old words are still indexed: %d", n)
	}
}

// The triggers keep the indexes in step with every write, in its
// transaction: the store's, a failed one, and raw SQL that knows nothing of
// the search.
func TestSearchIndexInStep(t *testing.T) {
	svc, st := newTestService(t)
	ctx := context.Background()
	var keep []Product
	for i := range 20 {
		keep = append(keep, mustCreate(t, svc, NewProduct{SKU: fmt.Sprintf("K%02d-X", i), Name: "Jar", Description: "Glass.", Price: 1, Currency: "EUR"}))
	}
	for i, p := range keep {
		switch i % 4 {
		case 0:
			if err := svc.DeleteProduct(adminCtx, p.ID); err != nil {
				t.Fatal(err)
			}
		case 1:
			if _, err := svc.UpdateProduct(adminCtx, p.ID, ProductPatch{Name: ptr("Renamed jar"), Description: ptr("Stone.")}); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := svc.UpdateProduct(adminCtx, p.ID, ProductPatch{SKU: ptr(fmt.Sprintf("N%02d-X", i)), Category: ptr("pantry")}); err != nil {
				t.Fatal(err)
			}
		case 3:
			if _, err := svc.UpdateProduct(adminCtx, p.ID, ProductPatch{Price: ptr(int64(9))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A write that fails leaves no trace in the index.
	if _, err := svc.CreateProduct(adminCtx, NewProduct{SKU: "K01-X", Name: "Zzgone", Price: 1, Currency: "EUR"}); err == nil {
		t.Fatal("duplicate SKU accepted")
	}
	if _, err := svc.UpdateProduct(adminCtx, keep[1].ID, ProductPatch{SKU: ptr("K03-X"), Name: ptr("Zzgone")}); err == nil {
		t.Fatal("update to a taken SKU accepted")
	}
	// Raw SQL without a search key: the trigger gives it the next one.
	if _, err := st.db.W.ExecContext(ctx, `INSERT INTO products (id, sku, name, price, currency, created_at, updated_at)
		VALUES (?, 'RAW1-X', 'Raw jar', 1, 'EUR', 0, 0)`, shop.NewID()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.W.ExecContext(ctx, `UPDATE products SET description = 'Zzgone' WHERE sku = 'K07-X'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.W.ExecContext(ctx, `UPDATE products SET description = 'Glass.' WHERE sku = 'K07-X'`); err != nil {
		t.Fatal(err)
	}
	wantIndexInStep(t, st.db.W)

	if got := searchIDs(t, st, SearchQuery{Words: []string{"renamed"}, Limit: 100}); len(got) != 5 {
		t.Errorf("renamed: %d products, want 5", len(got))
	}
	if got := searchIDs(t, st, SearchQuery{Words: []string{"jar"}, Category: "pantry", Limit: 100}); len(got) != 5 {
		t.Errorf("jar in pantry: %d products, want 5", len(got))
	}
	if got := searchIDs(t, st, SearchQuery{Words: []string{"raw"}, Limit: 100}); len(got) != 1 {
		t.Errorf("the raw insert: %v", got)
	}

	// VACUUM may renumber rowids; search keys stay.
	if _, err := st.db.W.ExecContext(ctx, `VACUUM`); err != nil {
		t.Fatal(err)
	}
	wantIndexInStep(t, st.db.W)
}

// migrateTo applies the catalogue's migrations up to version (inclusive) to
// db: the schema of an older release.
func migrateTo(t *testing.T, db *sql.DB, version int) {
	t.Helper()
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var v int
		fmt.Sscanf(e.Name(), "%d_", &v)
		if v <= version {
			body, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
			if err != nil {
				t.Fatal(err)
			}
			old[e.Name()] = &fstest.MapFile{Data: body}
		}
	}
	if err := sqlitedb.Migrate(context.Background(), db, old); err != nil {
		t.Fatal(err)
	}
}

// A catalogue from before the search index: opening it builds the index for
// the products it has, and the store then keeps it in step.
func TestSearchMigrationBuildsIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	migrateTo(t, db, 2)
	now := time.Now().UnixNano()
	var old []string
	for i := range 300 {
		id := shop.NewID()
		name := fmt.Sprintf("Old Café mug %d", i)
		category := []string{"kitchen", "garden", ""}[i%3]
		if _, err := db.ExecContext(ctx, `INSERT INTO products (id, sku, name, name_fold, description, price, currency, category, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 1, 'EUR', ?, ?, ?)`, id, fmt.Sprintf("OLD%03d-X", i), name, strings.ToLower(name), "Stoneware.", category, now, now); err != nil {
			t.Fatal(err)
		}
		old = append(old, id)
	}
	// Some rows gone, so that rowids have gaps.
	if _, err := db.ExecContext(ctx, `DELETE FROM products WHERE sku LIKE 'OLD%5-X'`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := OpenSQLiteStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wantIndexInStep(t, st.db.W)
	svc := NewService(st)
	if got := pageAll(t, svc, ListQuery{PageRequest: shop.PageRequest{Limit: 7}, Q: "cafe mug"}); len(got) != 270 {
		t.Fatalf("old products found: %d, want 270", len(got))
	}
	if got := pageAll(t, svc, ListQuery{Q: "stone", Category: "garden"}); len(got) != 90 {
		t.Fatalf("old garden products found by description: %d, want 90", len(got))
	}
	// New products take the next keys, after the old ones.
	p := mustCreate(t, svc, NewProduct{SKU: "NEW1-X", Name: "New café mug", Price: 1, Currency: "EUR"})
	got := ids(pageAll(t, svc, ListQuery{Q: "cafe mug", PageRequest: shop.PageRequest{Limit: 100}}))
	if len(got) != 271 || got[270] != p.ID {
		t.Fatalf("after a new product: %d found, last %s; want 271, the new one last", len(got), got[len(got)-1])
	}
	if err := svc.DeleteProduct(adminCtx, old[1]); err != nil {
		t.Fatal(err)
	}
	wantIndexInStep(t, st.db.W)
}

// The full-text index drives every tier's query, and products are read by
// their search key: never a scan of products, with or without a category
// (whose own index would otherwise tempt the planner).
func TestSearchQueryPlans(t *testing.T) {
	st := newTestStore(t)
	plan, _ := planSearch([]string{"mug"}, "kitchen")
	exprs := plan.exprs
	for tier := range tierCount {
		for withCategory, query := range searchTierQueries[tier] {
			args := []any{exprs[tier], 0, 10}
			if withCategory == 1 {
				args = []any{exprs[tier], 0, "kitchen", 10}
			}
			rows, err := st.db.R.Query(`EXPLAIN QUERY PLAN `+query, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			if len(plan) != 2 || !strings.HasPrefix(plan[0], "SCAN s VIRTUAL TABLE") ||
				plan[1] != "SEARCH p USING INDEX products_search_key (search_key=?)" {
				t.Errorf("tier %d, category %d: plan %q", tier, withCategory, plan)
			}
		}
	}
}

// ListProducts searches while products are written from other goroutines:
// every search answers, and the index ends in step.
func TestSearchWhileWriting(t *testing.T) {
	svc, st := newTestService(t)
	for i := range 50 {
		mustCreate(t, svc, NewProduct{SKU: fmt.Sprintf("W%02d-X", i), Name: "Steel pan", Price: 1, Currency: "EUR"})
	}
	done := make(chan error, 1)
	go func() {
		for i := range 100 {
			p, err := svc.CreateProduct(adminCtx, NewProduct{SKU: fmt.Sprintf("V%03d-X", i), Name: "Steel pot", Price: 1, Currency: "EUR"})
			if err == nil && i%2 == 0 {
				err = svc.DeleteProduct(adminCtx, p.ID)
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 50 {
		got := pageAll(t, svc, ListQuery{Q: "steel pan", PageRequest: shop.PageRequest{Limit: 7}})
		if len(got) != 50 || len(slices.Compact(slices.Sorted(slices.Values(ids(got))))) != 50 {
			t.Fatalf("steel pan: %d products while writing, want the 50", len(got))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantIndexInStep(t, st.db.W)
}

// The last tier names a prefix's longer words from the index's vocabulary
// instead of asking FTS5 for the prefix; whichever way, it must find what
// the prefix finds. This compares the two, for prefixes with no longer
// word, a few, more than maxCompletions, and ones not in ASCII.
func TestSearchPrefixTier(t *testing.T) {
	svc, st := newTestService(t)
	names := []string{"Cot", "Cotton sack", "Cottons", "Cottage pie", "Café", "Cafés", "Caffè", "Kaffee", "Ölkanne", "Öle"}
	for i := range maxCompletions + 5 {
		names = append(names, fmt.Sprintf("Zeta%02dx jar", i))
	}
	for i, n := range names {
		mustCreate(t, svc, NewProduct{SKU: fmt.Sprintf("P%02d-X", i), Name: n, Description: "Plain.", Price: 1, Currency: "EUR", Category: []string{"a", "b"}[i%2]})
	}
	for _, last := range []string{"cot", "Cott", "cotton", "cottons", "cottage", "caf", "café", "cafe", "öl", "Öle", "zeta", "zeta0", "zeta01", "zeta01x", "jar", "pla", "zz", "qqq"} {
		for _, category := range []string{"", "a"} {
			plan, _ := planSearch([]string{last}, category)
			match, err := st.prefixMatch(context.Background(), plan)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if match != "" {
				hits, err := st.searchTier(context.Background(), tierPrefix, match, 0, category, 1000)
				if err != nil {
					t.Fatalf("%q: %v", last, err)
				}
				for _, h := range hits {
					got = append(got, h.p.Name)
				}
			}
			hits, err := st.searchTier(context.Background(), tierPrefix, plan.exprs[tierPrefix], 0, category, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, h := range hits {
				want = append(want, h.p.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("last word %q, category %q: %q (%s), the prefix finds %q", last, category, got, match, want)
			}
		}
	}
	// And through Search: "cotton" finds the whole word first, then the
	// longer one.
	page, err := st.Search(context.Background(), SearchQuery{Words: []string{"cotton"}, Limit: 10})
	if err != nil || len(page.Items) != 2 || page.Items[0].Name != "Cotton sack" || page.Items[1].Name != "Cottons" {
		t.Fatalf("cotton: %v %v", page.Items, err)
	}
}
