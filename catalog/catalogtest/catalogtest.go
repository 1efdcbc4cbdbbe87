// Package catalogtest is the conformance suite of the catalogue: Run checks
// that a catalog.Service behaves as the catalogue must (validation, roles,
// SKU conflicts, not-found, updates, deletes, filters, paging and search),
// whatever is behind it: the local service on your own Store, a client of
// your own transport, or both.
//
// A Harness says how to get a fresh service and how to act as someone over
// it. For the local service, acting as someone is a context with
// shop.WithIdentity, which Local puts:
//
//	func TestMyStore(t *testing.T) {
//		catalogtest.Run(t, catalogtest.Harness{
//			New: func(t *testing.T) catalog.Service {
//				return catalog.NewService(newMyStore(t)) // an empty store
//			},
//			As: catalogtest.Local,
//		})
//	}
//
// For a remote client, acting as someone means sending their credentials.
// Over HTTP, make the client with a nil token func, so that
// shophttp.PassToken(nil) sends the token the context carries, and put a
// token for the identity in the context:
//
//	New: func(t *testing.T) catalog.Service {
//		srv := httptest.NewServer(catalog.NewHTTPHandler(
//			catalog.MakeServerEndpoints(catalog.NewService(store)), tokens, logger))
//		t.Cleanup(srv.Close)
//		client, err := catalog.MakeClientEndpoints(srv.URL, nil)
//		if err != nil {
//			t.Fatal(err)
//		}
//		return client
//	},
//	As: func(ctx context.Context, id shop.Identity) context.Context {
//		token, _, err := tokens.Issue(id, time.Hour)
//		if err != nil {
//			panic(err)
//		}
//		return shophttp.WithToken(ctx, token)
//	},
//
// This package's example_test.go is a complete, runnable instance of the
// first: TestMemoryStore runs the suite on an in-memory catalog.Store
// written with the exported API only. catalog's conformance_test.go runs it
// on the SQLite store, locally and over HTTP.
//
// The suite acts as an admin for changes, as a customer where it expects
// shop.ErrForbidden, and anonymously (a context As never touched) for reads
// and where it expects shop.ErrUnauthenticated. It compares error kinds with
// errors.Is and codes with shop.CodeOf, and compares product times with
// time.Time.Equal, so times may lose their location on the way. It needs
// nothing of SQL.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
)

// Harness is what Run needs to reach the service under test.
type Harness struct {
	// New returns a catalogue service with no products. Run calls it once
	// for each of its subtests, with that subtest's t, so no subtest sees
	// another's products; release what it opens with t.Cleanup. Run's
	// subtests run one after another, never in parallel.
	New func(t *testing.T) catalog.Service

	// As returns ctx made to act as id on the services New returns:
	// locally shop.WithIdentity; for a remote client, whatever makes the
	// client send credentials for id (over HTTP, a bearer token put with
	// shophttp.WithToken). A context As did not touch must make calls
	// anonymously.
	As func(ctx context.Context, id shop.Identity) context.Context
}

// The user IDs of the callers the suite acts as, with As: AdminID with
// shop.RoleAdmin for changes, CustomerID with shop.RoleCustomer where it
// expects shop.ErrForbidden. A transport that checks accounts must know them.
const (
	AdminID    = "catalogtest-admin"
	CustomerID = "catalogtest-customer"
)

// Local is the As of a harness around a local service (NewService, New, or
// anything wrapping them in process): it puts id in the context with
// shop.WithIdentity.
func Local(ctx context.Context, id shop.Identity) context.Context {
	return shop.WithIdentity(ctx, id)
}

// Run runs the conformance suite against the services h makes, each check
// as a subtest of t named after the behaviour it checks.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.As == nil {
		t.Fatal("catalogtest: the Harness needs both New and As")
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s := &suite{
				svc:      h.New(t),
				anon:     ctx,
				admin:    h.As(ctx, shop.Identity{UserID: AdminID, Role: shop.RoleAdmin}),
				customer: h.As(ctx, shop.Identity{UserID: CustomerID, Role: shop.RoleCustomer}),
			}
			c.run(t, s)
		})
	}
}

// suite is one subtest's service and the callers acting on it.
type suite struct {
	svc                   catalog.Service
	anon, admin, customer context.Context
}

var checks = []struct {
	name string
	run  func(t *testing.T, s *suite)
}{
	{"CreateAndGet", testCreateAndGet},
	{"GetMissing", testGetMissing},
	{"CreateValidation", testCreateValidation},
	{"Roles", testRoles},
	{"SKUTaken", testSKUTaken},
	{"SKUTakenConcurrently", testSKUTakenConcurrently},
	{"Update", testUpdate},
	{"UpdateInvalid", testUpdateInvalid},
	{"Delete", testDelete},
	{"ListPaging", testListPaging},
	{"ListInvalid", testListInvalid},
	{"ListFilters", testListFilters},
	{"PagingWhileWriting", testPagingWhileWriting},
	{"Search", testSearch},
	{"SearchRelevance", testSearchRelevance},
	{"SearchHostileInput", testSearchHostileInput},
	{"SearchPaging", testSearchPaging},
	{"SearchPagingWhileWriting", testSearchPagingWhileWriting},
	{"SearchSeesChanges", testSearchSeesChanges},
}

func validProduct(sku string) catalog.NewProduct {
	return catalog.NewProduct{SKU: sku, Name: "Blue mug " + sku, Description: "Holds tea.", Price: 1299, Currency: "EUR", Category: "kitchen"}
}

func (s *suite) mustCreate(t *testing.T, np catalog.NewProduct) catalog.Product {
	t.Helper()
	p, err := s.svc.CreateProduct(s.admin, np)
	if err != nil {
		t.Fatalf("CreateProduct(%+v) as admin: %v", np, err)
	}
	return p
}

// mustGet reads a product anonymously.
func (s *suite) mustGet(t *testing.T, id string) catalog.Product {
	t.Helper()
	p, err := s.svc.GetProduct(s.anon, id)
	if err != nil {
		t.Fatalf("GetProduct(%q): %v", id, err)
	}
	return p
}

// wantErr fails the test unless err has the kind (by errors.Is) and code.
func wantErr(t *testing.T, err error, kind *shop.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v %s", kind, code)
	}
	if !errors.Is(err, kind) || shop.CodeOf(err) != code {
		t.Fatalf("got error %q (kind %v, code %q), want kind %v, code %q", err, shop.KindOf(err), shop.CodeOf(err), kind, code)
	}
}

// same reports whether two products are equal, comparing times with Equal.
func same(a, b catalog.Product) bool {
	timesEqual := a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
	a.CreatedAt, a.UpdatedAt, b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return timesEqual && a == b
}

func ids(ps []catalog.Product) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func testCreateAndGet(t *testing.T, s *suite) {
	p, err := s.svc.CreateProduct(s.admin, catalog.NewProduct{SKU: "  MUG-1.b_2 ", Name: "  Blue mug ", Description: " Holds tea. ",
		Price: 0, Currency: "EUR", Category: " kitchen "})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.SKU != "MUG-1.b_2" || p.Name != "Blue mug" || p.Description != " Holds tea. " ||
		p.Price != 0 || p.Currency != "EUR" || p.Category != "kitchen" {
		t.Fatalf("created %+v; want the fields trimmed (except the description)", p)
	}
	if p.CreatedAt.IsZero() || !p.UpdatedAt.Equal(p.CreatedAt) {
		t.Fatalf("created_at %v, updated_at %v: want both set and equal", p.CreatedAt, p.UpdatedAt)
	}
	for name, ctx := range map[string]context.Context{"anonymous": s.anon, "customer": s.customer, "admin": s.admin} {
		got, err := s.svc.GetProduct(ctx, p.ID)
		if err != nil {
			t.Fatalf("GetProduct as %s: %v", name, err)
		}
		if !same(got, p) {
			t.Fatalf("GetProduct as %s = %+v, want %+v", name, got, p)
		}
	}
	q, err := s.svc.CreateProduct(s.admin, validProduct("MUG-2"))
	if err != nil {
		t.Fatal(err)
	}
	if q.ID == p.ID {
		t.Fatalf("two products with ID %q", q.ID)
	}
}

func testGetMissing(t *testing.T, s *suite) {
	s.mustCreate(t, validProduct("THERE-1"))
	for _, id := range []string{shop.NewID(), "", "' OR 1=1 --", "a/b c?d", "%2F", "THERE-1"} {
		_, err := s.svc.GetProduct(s.anon, id)
		wantErr(t, err, shop.ErrNotFound, catalog.CodeProductNotFound)
		_, err = s.svc.UpdateProduct(s.admin, id, catalog.ProductPatch{Name: ptr("x")})
		wantErr(t, err, shop.ErrNotFound, catalog.CodeProductNotFound)
		wantErr(t, s.svc.DeleteProduct(s.admin, id), shop.ErrNotFound, catalog.CodeProductNotFound)
	}
	// Changing a missing product still needs the admin role first.
	_, err := s.svc.UpdateProduct(s.anon, "", catalog.ProductPatch{Name: ptr("x")})
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")
	wantErr(t, s.svc.DeleteProduct(s.customer, ""), shop.ErrForbidden, "forbidden")
}

func testCreateValidation(t *testing.T, s *suite) {
	long := strings.Repeat
	cases := []struct {
		name   string
		change func(*catalog.NewProduct)
		code   string
		field  string
	}{
		{"sku empty", func(p *catalog.NewProduct) { p.SKU = "" }, catalog.CodeInvalidSKU, "sku"},
		{"sku blank", func(p *catalog.NewProduct) { p.SKU = "   " }, catalog.CodeInvalidSKU, "sku"},
		{"sku too long", func(p *catalog.NewProduct) { p.SKU = long("A", catalog.MaxSKULen+1) }, catalog.CodeInvalidSKU, "sku"},
		{"sku space inside", func(p *catalog.NewProduct) { p.SKU = "A B" }, catalog.CodeInvalidSKU, "sku"},
		{"sku slash", func(p *catalog.NewProduct) { p.SKU = "A/B" }, catalog.CodeInvalidSKU, "sku"},
		{"sku non-ascii letter", func(p *catalog.NewProduct) { p.SKU = "TASSE-É" }, catalog.CodeInvalidSKU, "sku"},
		{"sku percent", func(p *catalog.NewProduct) { p.SKU = "A%" }, catalog.CodeInvalidSKU, "sku"},
		{"name empty", func(p *catalog.NewProduct) { p.Name = "" }, catalog.CodeInvalidName, "name"},
		{"name blank", func(p *catalog.NewProduct) { p.Name = " \t\n" }, catalog.CodeInvalidName, "name"},
		{"name too long", func(p *catalog.NewProduct) { p.Name = long("é", catalog.MaxNameLen+1) }, catalog.CodeInvalidName, "name"},
		{"description too long", func(p *catalog.NewProduct) { p.Description = long("x", catalog.MaxDescriptionLen+1) }, catalog.CodeInvalidDescription, "description"},
		{"price negative", func(p *catalog.NewProduct) { p.Price = -1 }, catalog.CodeInvalidPrice, "price"},
		{"currency empty", func(p *catalog.NewProduct) { p.Currency = "" }, catalog.CodeInvalidCurrency, "currency"},
		{"currency lower case", func(p *catalog.NewProduct) { p.Currency = "eur" }, catalog.CodeInvalidCurrency, "currency"},
		{"currency unknown", func(p *catalog.NewProduct) { p.Currency = "XYZ" }, catalog.CodeInvalidCurrency, "currency"},
		{"category too long", func(p *catalog.NewProduct) { p.Category = long("c", catalog.MaxCategoryLen+1) }, catalog.CodeInvalidCategory, "category"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			np := validProduct("OK-1")
			tc.change(&np)
			_, err := s.svc.CreateProduct(s.admin, np)
			wantErr(t, err, shop.ErrInvalid, tc.code)
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("message %q does not name the field %s", err, tc.field)
			}
		})
	}
	page, err := s.svc.ListProducts(s.anon, catalog.ListQuery{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("invalid input stored something: %v %v", ids(page.Items), err)
	}

	// The limits themselves are allowed.
	np := validProduct(long("S", catalog.MaxSKULen))
	np.Name = long("é", catalog.MaxNameLen)
	np.Description = long("d", catalog.MaxDescriptionLen)
	np.Category = long("ç", catalog.MaxCategoryLen)
	p, err := s.svc.CreateProduct(s.admin, np)
	if err != nil {
		t.Fatalf("product at the limits refused: %v", err)
	}
	if got := s.mustGet(t, p.ID); got.Name != np.Name || got.Description != np.Description || got.Category != np.Category {
		t.Fatal("product at the limits did not come back whole")
	}
}

func testRoles(t *testing.T, s *suite) {
	p := s.mustCreate(t, validProduct("ROLE-1"))
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"create", func(ctx context.Context) error {
			_, err := s.svc.CreateProduct(ctx, validProduct("ROLE-2"))
			return err
		}},
		{"update", func(ctx context.Context) error {
			_, err := s.svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{Name: ptr("x")})
			return err
		}},
		{"delete", func(ctx context.Context) error { return s.svc.DeleteProduct(ctx, p.ID) }},
		// The role comes before the input: a refused caller learns nothing of it.
		{"create invalid", func(ctx context.Context) error { _, err := s.svc.CreateProduct(ctx, catalog.NewProduct{}); return err }},
		{"update empty", func(ctx context.Context) error {
			_, err := s.svc.UpdateProduct(ctx, p.ID, catalog.ProductPatch{})
			return err
		}},
		{"update missing", func(ctx context.Context) error {
			_, err := s.svc.UpdateProduct(ctx, shop.NewID(), catalog.ProductPatch{Name: ptr("x")})
			return err
		}},
		{"delete missing", func(ctx context.Context) error { return s.svc.DeleteProduct(ctx, shop.NewID()) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.call(s.anon), shop.ErrUnauthenticated, "missing_token")
			wantErr(t, c.call(s.customer), shop.ErrForbidden, "forbidden")
		})
	}
	if got := s.mustGet(t, p.ID); !same(got, p) {
		t.Fatalf("refused calls changed the product: %+v, want %+v", got, p)
	}
	page, err := s.svc.ListProducts(s.anon, catalog.ListQuery{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("refused calls created products: %v %v", ids(page.Items), err)
	}
}

func testSKUTaken(t *testing.T, s *suite) {
	a := s.mustCreate(t, validProduct("SKU-A"))
	b := s.mustCreate(t, validProduct("SKU-B"))

	_, err := s.svc.CreateProduct(s.admin, validProduct(" SKU-A "))
	wantErr(t, err, shop.ErrConflict, catalog.CodeSKUTaken)

	_, err = s.svc.UpdateProduct(s.admin, b.ID, catalog.ProductPatch{SKU: ptr("SKU-A"), Name: ptr("changed")})
	wantErr(t, err, shop.ErrConflict, catalog.CodeSKUTaken)
	if got := s.mustGet(t, b.ID); !same(got, b) {
		t.Fatalf("refused update changed the product: %+v, want %+v", got, b)
	}
	// Keeping one's own SKU is no conflict.
	if _, err := s.svc.UpdateProduct(s.admin, a.ID, catalog.ProductPatch{SKU: ptr("SKU-A")}); err != nil {
		t.Fatalf("update to the product's own SKU: %v", err)
	}
	// SKUs are case-sensitive.
	s.mustCreate(t, validProduct("sku-a"))
}

func testSKUTakenConcurrently(t *testing.T, s *suite) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.svc.CreateProduct(s.admin, validProduct("RACE-1"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	created := 0
	for err := range errs {
		if err == nil {
			created++
			continue
		}
		wantErr(t, err, shop.ErrConflict, catalog.CodeSKUTaken)
	}
	if created != 1 {
		t.Fatalf("%d products created with one SKU, want 1", created)
	}
	page, err := s.svc.ListProducts(s.anon, catalog.ListQuery{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("listed %v (%v), want the one product", ids(page.Items), err)
	}
}

func testUpdate(t *testing.T, s *suite) {
	p := s.mustCreate(t, validProduct("UPD-1"))

	// Only the given fields change; text is trimmed as on create.
	got, err := s.svc.UpdateProduct(s.admin, p.ID, catalog.ProductPatch{Name: ptr("  Red mug "), Price: ptr(int64(0))})
	if err != nil {
		t.Fatal(err)
	}
	want := p
	want.Name, want.Price, want.UpdatedAt = "Red mug", 0, got.UpdatedAt
	if !same(got, want) {
		t.Fatalf("after update\n got %+v\nwant %+v", got, want)
	}
	if !got.UpdatedAt.After(p.UpdatedAt) {
		t.Fatalf("updated_at %v did not move past %v", got.UpdatedAt, p.UpdatedAt)
	}
	if read := s.mustGet(t, p.ID); !same(read, got) {
		t.Fatalf("read back %+v, want %+v", read, got)
	}

	// Every field at once.
	all, err := s.svc.UpdateProduct(s.admin, p.ID, catalog.ProductPatch{SKU: ptr(" UPD-2 "), Name: ptr("N"), Description: ptr(""),
		Price: ptr(int64(5)), Currency: ptr("JPY"), Category: ptr(" ")})
	if err != nil {
		t.Fatal(err)
	}
	if all.ID != p.ID || all.SKU != "UPD-2" || all.Name != "N" || all.Description != "" || all.Price != 5 || all.Currency != "JPY" || all.Category != "" {
		t.Fatalf("after full update %+v", all)
	}
	if !all.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("created_at moved from %v to %v", p.CreatedAt, all.CreatedAt)
	}
	if read := s.mustGet(t, p.ID); !same(read, all) {
		t.Fatalf("read back %+v, want %+v", read, all)
	}
	// The old SKU is free, the new one taken.
	s.mustCreate(t, validProduct("UPD-1"))
	_, err = s.svc.CreateProduct(s.admin, validProduct("UPD-2"))
	wantErr(t, err, shop.ErrConflict, catalog.CodeSKUTaken)

	// updated_at moves forward on every update, however fast they come.
	last := all.UpdatedAt
	for i := range 5 {
		again, err := s.svc.UpdateProduct(s.admin, p.ID, catalog.ProductPatch{Price: ptr(int64(6 + i))})
		if err != nil {
			t.Fatal(err)
		}
		if !again.UpdatedAt.After(last) {
			t.Fatalf("update %d: updated_at %v did not move past %v", i, again.UpdatedAt, last)
		}
		last = again.UpdatedAt
	}

	// The name search sees the new name, not the old one.
	page, err := s.svc.ListProducts(s.anon, catalog.ListQuery{Q: "n", Category: ""})
	if err != nil || !slices.Contains(ids(page.Items), p.ID) {
		t.Fatalf("search for the new name: %v %v", ids(page.Items), err)
	}
	page, err = s.svc.ListProducts(s.anon, catalog.ListQuery{Q: "red"})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("search still finds the old name: %v %v", ids(page.Items), err)
	}
}

func testUpdateInvalid(t *testing.T, s *suite) {
	p := s.mustCreate(t, validProduct("UPDV-1"))
	cases := []struct {
		patch catalog.ProductPatch
		code  string
	}{
		{catalog.ProductPatch{}, catalog.CodeEmptyPatch},
		{catalog.ProductPatch{SKU: ptr(" ")}, catalog.CodeInvalidSKU},
		{catalog.ProductPatch{SKU: ptr("a b")}, catalog.CodeInvalidSKU},
		{catalog.ProductPatch{Name: ptr("")}, catalog.CodeInvalidName},
		{catalog.ProductPatch{Name: ptr("ok"), Description: ptr(strings.Repeat("x", catalog.MaxDescriptionLen+1))}, catalog.CodeInvalidDescription},
		{catalog.ProductPatch{Price: ptr(int64(-5))}, catalog.CodeInvalidPrice},
		{catalog.ProductPatch{Currency: ptr("usd")}, catalog.CodeInvalidCurrency},
		{catalog.ProductPatch{Category: ptr(strings.Repeat("c", catalog.MaxCategoryLen+1))}, catalog.CodeInvalidCategory},
	}
	for _, tc := range cases {
		_, err := s.svc.UpdateProduct(s.admin, p.ID, tc.patch)
		wantErr(t, err, shop.ErrInvalid, tc.code)
	}
	if got := s.mustGet(t, p.ID); !same(got, p) {
		t.Fatalf("invalid updates changed the product: %+v, want %+v", got, p)
	}
	_, err := s.svc.UpdateProduct(s.admin, shop.NewID(), catalog.ProductPatch{Name: ptr("x")})
	wantErr(t, err, shop.ErrNotFound, catalog.CodeProductNotFound)
}

func testDelete(t *testing.T, s *suite) {
	p := s.mustCreate(t, validProduct("DEL-1"))
	keep := s.mustCreate(t, validProduct("DEL-2"))
	if err := s.svc.DeleteProduct(s.admin, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.svc.GetProduct(s.anon, p.ID)
	wantErr(t, err, shop.ErrNotFound, catalog.CodeProductNotFound)
	wantErr(t, s.svc.DeleteProduct(s.admin, p.ID), shop.ErrNotFound, catalog.CodeProductNotFound)
	_, err = s.svc.UpdateProduct(s.admin, p.ID, catalog.ProductPatch{Name: ptr("x")})
	wantErr(t, err, shop.ErrNotFound, catalog.CodeProductNotFound)
	if got := s.mustGet(t, keep.ID); !same(got, keep) {
		t.Fatalf("the other product changed: %+v", got)
	}
	page, err := s.svc.ListProducts(s.anon, catalog.ListQuery{})
	if err != nil || fmt.Sprint(ids(page.Items)) != fmt.Sprint([]string{keep.ID}) {
		t.Fatalf("listed %v after the delete (%v), want only %s", ids(page.Items), err, keep.ID)
	}
	// The SKU is free again.
	s.mustCreate(t, validProduct("DEL-1"))
}

// pageAll follows NextCursor to the end and returns every item.
func (s *suite) pageAll(t *testing.T, q catalog.ListQuery) []catalog.Product {
	t.Helper()
	var all []catalog.Product
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
		page, err := s.svc.ListProducts(s.anon, q)
		if err != nil {
			t.Fatalf("ListProducts(%+v): %v", q, err)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		limit := q.Limit
		if limit == 0 {
			limit = shop.DefaultLimit
		}
		if len(page.Items) != limit {
			t.Fatalf("page of %d items before the last page (limit %d)", len(page.Items), limit)
		}
		q.Cursor = page.NextCursor
	}
}

func testListPaging(t *testing.T, s *suite) {
	page, err := s.svc.ListProducts(s.anon, catalog.ListQuery{})
	if err != nil || page.Items == nil || len(page.Items) != 0 || page.NextCursor != "" {
		t.Fatalf("empty catalogue: %#v %v; want no items (not nil) and no cursor", page, err)
	}

	const n = 45
	var created []string
	for i := range n {
		created = append(created, s.mustCreate(t, validProduct(fmt.Sprintf("P-%02d", i))).ID)
	}
	// Products come in ID order.
	slices.Sort(created)

	// Default limit: 20, 20, 5.
	page, err = s.svc.ListProducts(s.anon, catalog.ListQuery{})
	if err != nil || len(page.Items) != shop.DefaultLimit || page.NextCursor == "" {
		t.Fatalf("first page: %d items, cursor %q, %v; want %d and a cursor", len(page.Items), page.NextCursor, err, shop.DefaultLimit)
	}
	for _, limit := range []int{0, 1, 7, 15, n - 1, n, n + 1, shop.MaxLimit} {
		all := s.pageAll(t, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: limit}})
		if fmt.Sprint(ids(all)) != fmt.Sprint(created) {
			t.Fatalf("limit %d: paged %d items %v, want all %d in ID order %v", limit, len(all), ids(all), n, created)
		}
	}
	// A full last page has no cursor; one item short has one.
	page, err = s.svc.ListProducts(s.anon, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: n}})
	if err != nil || len(page.Items) != n || page.NextCursor != "" {
		t.Fatalf("exact page: %d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}
	page, err = s.svc.ListProducts(s.anon, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: n - 1}})
	if err != nil || len(page.Items) != n-1 || page.NextCursor == "" {
		t.Fatalf("one short: %d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}
	// The cursor after the last item gives an empty last page.
	last, err := s.svc.ListProducts(s.anon, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: 1, Cursor: page.NextCursor}})
	if err != nil || len(last.Items) != 1 || last.Items[0].ID != created[n-1] {
		t.Fatalf("page after %d: %v %v, want %s", n-1, ids(last.Items), err, created[n-1])
	}
	if last.NextCursor != "" {
		end, err := s.svc.ListProducts(s.anon, catalog.ListQuery{PageRequest: shop.PageRequest{Cursor: last.NextCursor}})
		if err != nil || end.Items == nil || len(end.Items) != 0 || end.NextCursor != "" {
			t.Fatalf("past the end: %#v %v", end, err)
		}
	}
}

func testListInvalid(t *testing.T, s *suite) {
	cases := []struct {
		q    catalog.ListQuery
		code string
	}{
		{catalog.ListQuery{PageRequest: shop.PageRequest{Limit: -1}}, "invalid_limit"},
		{catalog.ListQuery{PageRequest: shop.PageRequest{Limit: shop.MaxLimit + 1}}, "invalid_limit"},
		{catalog.ListQuery{PageRequest: shop.PageRequest{Cursor: "not a cursor!"}}, "invalid_cursor"},
		{catalog.ListQuery{PageRequest: shop.PageRequest{Cursor: "eHl6"}}, "invalid_cursor"}, // base64 of "xyz": no prefix
		{catalog.ListQuery{Q: strings.Repeat("q", catalog.MaxQueryLen+1)}, catalog.CodeInvalidQuery},
	}
	for _, tc := range cases {
		_, err := s.svc.ListProducts(s.anon, tc.q)
		wantErr(t, err, shop.ErrInvalid, tc.code)
	}
	q := catalog.ListQuery{Q: strings.Repeat("é", catalog.MaxQueryLen), PageRequest: shop.PageRequest{Limit: shop.MaxLimit}}
	if _, err := s.svc.ListProducts(s.anon, q); err != nil {
		t.Fatalf("q of %d characters and limit %d refused: %v", catalog.MaxQueryLen, shop.MaxLimit, err)
	}
}

func testListFilters(t *testing.T, s *suite) {
	mk := func(sku, name, category string) string {
		np := validProduct(sku)
		np.Name, np.Category = name, category
		return s.mustCreate(t, np).ID
	}
	cotton := mk("F-1", "100% Cotton Shirt", "clothes")
	cottonish := mk("F-2", "1000 Cotton Shirts", "clothes")
	under := mk("F-3", "snake_case mug", "kitchen")
	underLike := mk("F-4", "snakeXcase mug", "kitchen")
	backslash := mk("F-5", `back\slash MUG`, "kitchen")
	uni := mk("F-6", "ÉCLAIR Tin", "")
	all := []string{cotton, cottonish, under, underLike, backslash, uni}

	cases := []struct {
		category, q string
		want        []string
	}{
		{"", "", all},
		{"clothes", "", []string{cotton, cottonish}},
		{"kitchen", "", []string{under, underLike, backslash}},
		{"Kitchen", "", nil},
		{"none", "", nil},
		// A search looks for words; punctuation only separates them.
		{"", "%", nil},
		{"", "_", nil},
		{"", `\`, nil},
		{"", "100%", []string{cotton, cottonish}}, // the last word may be the start of one
		{"", "1000", []string{cottonish}},
		{"", "e_c", nil},
		{"", "snake_case", []string{under}},
		{"", `k\s`, nil},
		{"", `back\slash`, []string{backslash}},
		{"", "MUG", []string{under, underLike, backslash}},
		{"clothes", "mug", nil},
		{"clothes", "cotton", []string{cotton, cottonish}},
		{"", "éclair", []string{uni}},
		{"", "Eclair", []string{uni}},
		{"", "shirt ", []string{cotton, cottonish}},
		{"", "shirt cotton", []string{cotton}}, // every word but the last whole
		{"", "Tin", []string{uni}},
		{"kitchen", "tea", []string{under, underLike, backslash}}, // the description
		{"", "f 6", []string{uni}},                                // the SKU
		{"", " \t", all},                                          // white space is no search
	}
	for _, tc := range cases {
		want := slices.Clone(tc.want)
		slices.Sort(want)
		got := ids(s.pageAll(t, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: 1}, Category: tc.category, Q: tc.q}))
		if strings.TrimSpace(tc.q) != "" {
			slices.Sort(got) // a search comes by relevance, the list in ID order
		}
		if fmt.Sprint(got) != fmt.Sprint(want) && (len(got) != 0 || len(want) != 0) {
			t.Errorf("category %q q %q: got %v, want %v", tc.category, tc.q, got, want)
		}
	}
}

// testPagingWhileWriting pages through the catalogue while products are
// created and deleted between the pages, ahead of the reader and behind it.
// Every product that existed when paging began and was not deleted must
// appear exactly once, in ID order, and a deleted one must not appear after
// its deletion.
func testPagingWhileWriting(t *testing.T, s *suite) {
	const seeded = 40
	existing := make([]string, 0, seeded)
	for i := range seeded {
		existing = append(existing, s.mustCreate(t, validProduct(fmt.Sprintf("SEED-%03d", i))).ID)
	}
	slices.Sort(existing)

	deleted := map[string]bool{}
	del := func(id string) {
		t.Helper()
		if err := s.svc.DeleteProduct(s.admin, id); err != nil {
			t.Fatalf("DeleteProduct(%s): %v", id, err)
		}
		deleted[id] = true
	}
	seen := map[string]int{}
	last := ""
	q := catalog.ListQuery{PageRequest: shop.PageRequest{Limit: 3}}
	for pages := 1; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		page, err := s.svc.ListProducts(s.anon, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			if p.ID <= last {
				t.Fatalf("ID %s after %s: not ascending", p.ID, last)
			}
			if deleted[p.ID] {
				t.Fatalf("product %s listed after it was deleted", p.ID)
			}
			last = p.ID
			seen[p.ID]++
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor

		// Between pages: a new product (it sorts last), a seeded one
		// deleted ahead of the reader, one behind it.
		s.mustCreate(t, validProduct(fmt.Sprintf("NEW-%03d", pages)))
		if i := slices.IndexFunc(existing, func(id string) bool { return id > last && !deleted[id] }); i >= 0 && pages%2 == 0 {
			del(existing[i])
		}
		if i := slices.IndexFunc(existing, func(id string) bool { return id <= last && !deleted[id] }); i >= 0 && pages%3 == 0 {
			del(existing[i])
		}
	}
	aheadDeleted := 0
	for _, id := range existing {
		switch {
		case deleted[id] && seen[id] == 0:
			aheadDeleted++
		case !deleted[id] && seen[id] == 0:
			t.Errorf("product %s existed, was never deleted, and was skipped", id)
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("product %s seen %d times", id, n)
		}
	}
	if aheadDeleted == 0 || len(deleted) == aheadDeleted {
		t.Fatalf("deleted %d products, %d of them ahead of the reader: the test proved little", len(deleted), aheadDeleted)
	}
}
