package catalogtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
)

// The search checks: ListProducts with Q, as catalog.Store's Search
// describes it. They compare sets of products, except where they check the
// order the contract fixes (name before description) and the paging.

// searchShop is the small catalogue the search checks look through.
type searchShop struct {
	hoodie, cafeMug, travelMug, cape, espresso, print string
}

func (s *suite) makeSearchShop(t *testing.T) searchShop {
	t.Helper()
	mk := func(sku, name, description, category string) string {
		return s.mustCreate(t, catalog.NewProduct{SKU: sku, Name: name, Description: description,
			Price: 1000, Currency: "EUR", Category: category}).ID
	}
	return searchShop{
		hoodie:    mk("BLU-HD-1", "Blue Hoodie", "Warm cotton, with a kangaroo pocket.", "apparel"),
		cafeMug:   mk("MUG-CAFE", "Café Mug", "Stoneware, 350 ml.", "kitchen"),
		travelMug: mk("MUG-TRAVEL", "Travel Mug", "Keeps coffee hot. Fits any café table.", "kitchen"),
		cape:      mk("CAPE-RED", "Red Hood Cape", "A cape with a hood.", "apparel"),
		espresso:  mk("CUP-ESP-1", "Espresso Cup", "For the blue hour.", "kitchen"),
		print:     mk("ART-7", "Naïve Art Print", "Printed on cotton paper.", "home"),
	}
}

// searchIDs pages through a search (limit 2, so that paging is part of
// every check) and returns the IDs found, sorted.
func (s *suite) searchIDs(t *testing.T, category, q string) []string {
	t.Helper()
	got := ids(s.pageAll(t, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: 2}, Category: category, Q: q}))
	slices.Sort(got)
	return got
}

func sorted(xs ...string) []string {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs
}

func testSearch(t *testing.T, s *suite) {
	p := s.makeSearchShop(t)
	cases := []struct {
		category, q string
		want        []string
	}{
		{"", "hoodie", []string{p.hoodie}},
		{"", "hood", []string{p.hoodie, p.cape}}, // the start of a word, or the whole word
		{"", "HOOD", []string{p.hoodie, p.cape}},
		{"", "hoo", []string{p.hoodie, p.cape}},
		{"", "h", []string{p.hoodie, p.travelMug, p.cape, p.espresso}}, // hoodie, hot, hood, hour
		{"", "cafe", []string{p.cafeMug, p.travelMug}},                 // diacritics folded, description too
		{"", "CAFÉ", []string{p.cafeMug, p.travelMug}},
		{"", "cafe\u0301", []string{p.cafeMug, p.travelMug}}, // e and a combining accent
		{"", "naive", []string{p.print}},
		{"", "mug", []string{p.cafeMug, p.travelMug}},
		{"", "mugs", nil},
		{"", "cotton", []string{p.hoodie, p.print}},
		{"", "blue", []string{p.hoodie, p.espresso}},
		{"", "mug cafe", []string{p.cafeMug, p.travelMug}}, // every word, in any field
		{"", "cafe mug", []string{p.cafeMug, p.travelMug}},
		{"", "coffee hot", []string{p.travelMug}},
		{"", "hot coff", []string{p.travelMug}},
		{"", "hood cotton", nil}, // a word before the last is whole: Hoodie is no hood
		{"", "hoodie cotton", []string{p.hoodie}},
		{"", "hoodie red", nil}, // every word
		{"", "kangaroo pocket warm", []string{p.hoodie}},
		{"", "350", []string{p.cafeMug}},
		{"", "ml 350", []string{p.cafeMug}},
		{"", "esp", []string{p.espresso}},
		{"", "mug-travel", []string{p.travelMug}}, // the SKU
		{"", "art 7", []string{p.print}},
		{"", "cup esp 1", []string{p.espresso}},
		{"", "xyzzy", nil},
		{"kitchen", "mug", []string{p.cafeMug, p.travelMug}},
		{"apparel", "mug", nil},
		{"apparel", "hood", []string{p.hoodie, p.cape}},
		{"home", "cotton", []string{p.print}},
		{"Home", "cotton", nil},
		{"kitchen", "blue", []string{p.espresso}},
		// No letter or digit: no words, nothing found.
		{"", "%", nil},
		{"", "-", nil},
		{"", "***", nil},
		{"kitchen", `"`, nil},
	}
	for _, tc := range cases {
		if got, want := s.searchIDs(t, tc.category, tc.q), sorted(tc.want...); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("category %q q %q: found %v, want %v", tc.category, tc.q, got, want)
		}
	}
	// White space alone is no search: the whole list, in ID order.
	if got, want := ids(s.pageAll(t, catalog.ListQuery{Q: "  "})), sorted(p.hoodie, p.cafeMug, p.travelMug, p.cape, p.espresso, p.print); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("q of spaces: %v, want the list %v", got, want)
	}
}

// testSearchRelevance checks the order the contract fixes: a product whose
// name or SKU holds every word comes before one that needs its description.
func testSearchRelevance(t *testing.T, s *suite) {
	p := s.makeSearchShop(t)
	for _, tc := range []struct {
		q             string
		first, second []string
	}{
		{"blue", []string{p.hoodie}, []string{p.espresso}},
		{"cafe", []string{p.cafeMug}, []string{p.travelMug}},
		{"mug cafe", []string{p.cafeMug}, []string{p.travelMug}},
		{"cotton", nil, []string{p.hoodie, p.print}},
	} {
		for _, limit := range []int{1, 100} {
			got := ids(s.pageAll(t, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: limit}, Q: tc.q}))
			n := len(tc.first)
			if len(got) != n+len(tc.second) || fmt.Sprint(sorted(got[:n]...)) != fmt.Sprint(sorted(tc.first...)) ||
				fmt.Sprint(sorted(got[n:]...)) != fmt.Sprint(sorted(tc.second...)) {
				t.Errorf("q %q, limit %d: %v; want %v (name or SKU) before %v (description)", tc.q, limit, got, tc.first, tc.second)
			}
		}
	}
	// Many products, half with the word in the name: every one of those
	// comes first, on any page size.
	var named, described []string
	for i := range 12 {
		np := validProduct(fmt.Sprintf("REL-%02d", i))
		if i%2 == 0 {
			np.Name, np.Description = fmt.Sprintf("Walnut tray %d", i), "Oiled."
			named = append(named, s.mustCreate(t, np).ID)
		} else {
			np.Name, np.Description = fmt.Sprintf("Serving board %d", i), "Solid walnut, oiled."
			described = append(described, s.mustCreate(t, np).ID)
		}
	}
	for _, limit := range []int{1, 5, 100} {
		got := ids(s.pageAll(t, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: limit}, Q: "walnut"}))
		if len(got) != 12 || fmt.Sprint(sorted(got[:6]...)) != fmt.Sprint(sorted(named...)) {
			t.Errorf("walnut, limit %d: %v; want %v first, then %v", limit, got, named, described)
		}
	}
}

// testSearchHostileInput sends what a query language would read as syntax:
// each is only words and separators, and finds what its words find.
func testSearchHostileInput(t *testing.T, s *suite) {
	p := s.makeSearchShop(t)
	hood := []string{p.hoodie, p.cape}
	cases := []struct {
		q    string
		want []string
	}{
		{`"`, nil},
		{`""`, nil},
		{`"hood`, hood},
		{`hood"`, hood},
		{`"blue hoodie"`, []string{p.hoodie}},
		{`'hood'`, hood},
		{`*`, nil},
		{`hood*`, hood},
		{`*hood`, hood},
		{`ho*od`, nil}, // the words "ho" and "od"
		{`-hoodie`, []string{p.hoodie}},
		{`hoodie -blue`, []string{p.hoodie}}, // no operator: blue is a word to find
		{`hoodie NOT blue`, nil},             // "not" is a word too, which no product has
		{`blue OR red`, nil},
		{`blue AND hoodie`, nil},
		{`NEAR`, nil},
		{`NEAR(blue hoodie)`, nil},
		{`NEAR("blue" "hoodie", 2)`, nil},
		{`(hood)`, hood},
		{`((hood`, hood},
		{`hood))`, hood},
		{`name:hoodie`, nil},
		{`{name sku}: hoodie`, nil},
		{`hoodie:`, []string{p.hoodie}},
		{`^hoodie`, []string{p.hoodie}},
		{`+hoodie +blue`, []string{p.hoodie}},
		{`%hood%`, hood},
		{`hood_`, hood},
		{`hood\`, hood},
		{`\"hood\"`, hood},
		{`hood'; DROP TABLE products; --`, nil},
		{"hood\x00", hood},
		{"\xffhood", hood}, // not UTF-8
		{"hood\t\n", hood}, // control characters
		{"☕ mug", []string{p.cafeMug, p.travelMug}},
		{"𝐡𝐨𝐨𝐝", nil},                                    // mathematical letters are letters, no others
		{"咖啡 кофе قهوة", nil},                            // other scripts
		{"mug \ue000", []string{p.cafeMug, p.travelMug}}, // a private-use character separates
		{"hood\u19b0ie", nil},
		{strings.Repeat("x ", catalog.MaxQueryLen/2), nil}, // many words
		{strings.Repeat("(", catalog.MaxQueryLen), nil},
		{strings.Repeat(`"`, catalog.MaxQueryLen), nil},
	}
	for _, tc := range cases {
		if got, want := s.searchIDs(t, "", tc.q), sorted(tc.want...); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("q %q: found %v, want %v", tc.q, got, want)
		}
	}
	// Longer than MaxQueryLen is refused, however long.
	for _, n := range []int{catalog.MaxQueryLen + 1, 10 << 10} {
		_, err := s.svc.ListProducts(s.anon, catalog.ListQuery{Q: strings.Repeat(`"*`, n/2+1)})
		wantErr(t, err, shop.ErrInvalid, catalog.CodeInvalidQuery)
	}
	// The catalogue is whole.
	if got := ids(s.pageAll(t, catalog.ListQuery{})); len(got) != 6 {
		t.Fatalf("after the hostile searches the catalogue lists %v", got)
	}
}

func testSearchPaging(t *testing.T, s *suite) {
	var all []string
	for i := range 23 {
		np := validProduct(fmt.Sprintf("PAGE-%02d", i))
		switch i % 3 {
		case 0:
			np.Name = fmt.Sprintf("Linen napkin %d", i)
		case 1:
			np.Name, np.Description = fmt.Sprintf("Table cloth %d", i), "Pure linen."
		case 2:
			np.Name = fmt.Sprintf("Linens set %d", i) // the word's start only
		}
		all = append(all, s.mustCreate(t, np).ID)
	}
	s.mustCreate(t, validProduct("PAGE-OTHER"))
	slices.Sort(all)

	// Every page size pages through the same order, each product once.
	var order []string
	for _, limit := range []int{1, 2, 7, 22, 23, 24, shop.MaxLimit} {
		got := ids(s.pageAll(t, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: limit}, Q: "linen"}))
		if fmt.Sprint(sorted(got...)) != fmt.Sprint(all) {
			t.Fatalf("limit %d: paged %d products %v, want the %d that match %v", limit, len(got), got, len(all), all)
		}
		if order == nil {
			order = got
		} else if fmt.Sprint(got) != fmt.Sprint(order) {
			t.Fatalf("limit %d pages in another order:\n%v\nlimit 1:\n%v", limit, got, order)
		}
	}
	// A full last page has no cursor; one short has one, and the page
	// after it holds the last product and no cursor.
	page, err := s.svc.ListProducts(s.anon, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: 23}, Q: "linen"})
	if err != nil || len(page.Items) != 23 || page.NextCursor != "" {
		t.Fatalf("exact page: %d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}
	page, err = s.svc.ListProducts(s.anon, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: 22}, Q: "linen"})
	if err != nil || len(page.Items) != 22 || page.NextCursor == "" {
		t.Fatalf("one short: %d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}
	last, err := s.svc.ListProducts(s.anon, catalog.ListQuery{PageRequest: shop.PageRequest{Cursor: page.NextCursor}, Q: "linen"})
	if err != nil || len(last.Items) != 1 || last.Items[0].ID != order[22] || last.NextCursor != "" {
		t.Fatalf("last page: %v, cursor %q, %v; want %s alone", ids(last.Items), last.NextCursor, err, order[22])
	}
	// Nothing found: an empty page, not nil, and no cursor.
	none, err := s.svc.ListProducts(s.anon, catalog.ListQuery{Q: "wool"})
	if err != nil || none.Items == nil || len(none.Items) != 0 || none.NextCursor != "" {
		t.Fatalf("no match: %#v %v", none, err)
	}
	// A cursor the store never made is refused.
	for _, c := range []string{"not a cursor!", shop.EncodeCursor("no position"), shop.EncodeCursor("9:9:9")} {
		_, err := s.svc.ListProducts(s.anon, catalog.ListQuery{PageRequest: shop.PageRequest{Cursor: c}, Q: "linen"})
		wantErr(t, err, shop.ErrInvalid, "invalid_cursor")
	}
}

// testSearchPagingWhileWriting pages through a search while products that
// match are created and deleted between the pages, ahead of the reader and
// behind it. Every product that matched when paging began and was not
// deleted must appear exactly once, a deleted one not after its deletion,
// and the products with the word in the name before the others throughout.
func testSearchPagingWhileWriting(t *testing.T, s *suite) {
	const seeded = 40
	inName := map[string]bool{}
	var existing []string
	add := func(i int, prefix string) string {
		np := validProduct(fmt.Sprintf("%s-%03d", prefix, i))
		switch i % 3 {
		case 0:
			np.Name = fmt.Sprintf("Oak shelf %d", i)
		case 1:
			np.Name, np.Description = fmt.Sprintf("Shelf %d", i), "Solid oak."
		case 2:
			np.Name, np.Description = fmt.Sprintf("Oaken shelf %d", i), "Heavy." // the word's start
		}
		id := s.mustCreate(t, np).ID
		inName[id] = i%3 == 0
		return id
	}
	for i := range seeded {
		existing = append(existing, add(i, "SEED"))
	}
	s.mustCreate(t, validProduct("PINE-1"))

	deleted := map[string]bool{}
	seen := map[string]int{}
	var order []string
	q := catalog.ListQuery{PageRequest: shop.PageRequest{Limit: 3}, Q: "oak"}
	for pages := 1; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		page, err := s.svc.ListProducts(s.anon, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			if deleted[p.ID] {
				t.Fatalf("product %s found after it was deleted", p.ID)
			}
			seen[p.ID]++
			order = append(order, p.ID)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor

		// Between pages: a new product of each kind, a seeded one deleted
		// ahead of the reader (not seen yet), one behind it (seen).
		s.mustCreate(t, validProduct(fmt.Sprintf("OTHER-%03d", pages)))
		add(3*pages, "NEW")
		add(3*pages+1, "NEW")
		if i := slices.IndexFunc(existing, func(id string) bool { return seen[id] == 0 && !deleted[id] }); i >= 0 && pages%2 == 0 {
			deleted[existing[i]] = true
			if err := s.svc.DeleteProduct(s.admin, existing[i]); err != nil {
				t.Fatal(err)
			}
		}
		if i := slices.IndexFunc(existing, func(id string) bool { return seen[id] > 0 && !deleted[id] }); i >= 0 && pages%3 == 0 {
			deleted[existing[i]] = true
			if err := s.svc.DeleteProduct(s.admin, existing[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	aheadDeleted := 0
	for _, id := range existing {
		switch {
		case deleted[id] && seen[id] == 0:
			aheadDeleted++
		case !deleted[id] && seen[id] == 0:
			t.Errorf("product %s matched throughout and was skipped", id)
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("product %s found %d times", id, n)
		}
	}
	if i := slices.IndexFunc(order, func(id string) bool { return !inName[id] }); i >= 0 {
		if j := slices.IndexFunc(order[i:], func(id string) bool { return inName[id] }); j >= 0 {
			t.Errorf("%s, with oak in its name, came after %s, without", order[i+j], order[i])
		}
	}
	if aheadDeleted == 0 || len(deleted) == aheadDeleted {
		t.Fatalf("deleted %d products, %d of them ahead of the reader: the test proved little", len(deleted), aheadDeleted)
	}
}

// testSearchSeesChanges checks that a search sees each change at once: new
// products, new names, SKUs and descriptions, and deletes.
func testSearchSeesChanges(t *testing.T, s *suite) {
	found := func(q string) []string {
		t.Helper()
		return s.searchIDs(t, "", q)
	}
	np := validProduct("CHG-1")
	np.Name, np.Description = "Copper kettle", "Boils fast."
	p := s.mustCreate(t, np)
	if got := found("copper"); fmt.Sprint(got) != fmt.Sprint([]string{p.ID}) {
		t.Fatalf("new product: %v", got)
	}
	changes := []struct {
		patch     catalog.ProductPatch
		find, not string
	}{
		{catalog.ProductPatch{Name: ptr("Brass kettle")}, "brass", "copper"},
		{catalog.ProductPatch{Description: ptr("Whistles when ready.")}, "whistles", "boils"},
		{catalog.ProductPatch{SKU: ptr("KETTLE-9")}, "kettle 9", "chg"},
		{catalog.ProductPatch{Price: ptr(int64(1))}, "brass", "copper"}, // no text change
	}
	for _, c := range changes {
		if _, err := s.svc.UpdateProduct(s.admin, p.ID, c.patch); err != nil {
			t.Fatal(err)
		}
		if got := found(c.find); fmt.Sprint(got) != fmt.Sprint([]string{p.ID}) {
			t.Errorf("after %+v, %q finds %v", c.patch, c.find, got)
		}
		if got := found(c.not); len(got) != 0 {
			t.Errorf("after %+v, %q still finds %v", c.patch, c.not, got)
		}
	}
	if _, err := s.svc.UpdateProduct(s.admin, p.ID, catalog.ProductPatch{Category: ptr("garden")}); err != nil {
		t.Fatal(err)
	}
	if got := s.searchIDs(t, "garden", "brass"); fmt.Sprint(got) != fmt.Sprint([]string{p.ID}) {
		t.Errorf("in its new category: %v", got)
	}
	if got := s.searchIDs(t, "kitchen", "brass"); len(got) != 0 {
		t.Errorf("still in its old category: %v", got)
	}
	if err := s.svc.DeleteProduct(s.admin, p.ID); err != nil {
		t.Fatal(err)
	}
	if got := found("brass"); len(got) != 0 {
		t.Errorf("deleted product found: %v", got)
	}
}
