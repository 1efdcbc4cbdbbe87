package main

import (
	"fmt"
	"testing"

	"github.com/kitshop/shop/api/apitest"
	"github.com/kitshop/shop/examples/internal/binarytest"
)

// TestContractCoversEveryOperation calls every operation of the OpenAPI
// document on a shop of each topology, each exchange checked against it,
// and then asks the checker whether any operation went unused. The other
// end-to-end tests check their exchanges against the same document.
func TestContractCoversEveryOperation(t *testing.T) {
	eachTopology(t, func(t *testing.T, _ string, args []string) {
		c, err := apitest.New()
		if err != nil {
			t.Fatal(err)
		}
		p := startShop(t, t.TempDir(), append(args, "-sample-data=false", "-quiet")...)
		client := c.Client(t.Errorf)
		do := func(status int, method, path, token, body string, headers ...string) map[string]any {
			t.Helper()
			got, _, m := binarytest.DoJSONWith(t, client, method, p.base+path, token, body, headers...)
			if got != status {
				t.Fatalf("%s %s = %d %v, want %d", method, path, got, m, status)
			}
			return m
		}
		do(200, "GET", "/healthz", "", "")
		do(200, "GET", "/readyz", "", "")
		if got, _, _ := binarytest.DoWith(t, client, "GET", p.base+"/metrics", "", ""); got != 200 {
			t.Fatalf("/metrics: %d", got)
		}
		if got, _, body := binarytest.DoWith(t, client, "GET", p.base+"/openapi.yaml", "", ""); got != 200 || len(body) < 1000 {
			t.Fatalf("/openapi.yaml: %d, %d bytes", got, len(body))
		}
		do(201, "POST", "/register", "", `{"email":"ada@example.com","password":"ada-password","name":"Ada"}`)
		bob := do(201, "POST", "/users", "", `{"email":"bob@example.com","password":"bob-password","name":"Bob"}`)["id"].(string)
		ada := do(200, "POST", "/login", "", `{"email":"ada@example.com","password":"ada-password"}`)["token"].(string)
		admin := do(200, "POST", "/login", "", fmt.Sprintf(`{"email":%q,"password":%q}`, adminEmail, adminPassword))["token"].(string)
		do(200, "GET", "/users?limit=10", admin, "")
		do(200, "GET", "/users/me", ada, "")
		do(200, "GET", "/users/"+bob, admin, "")
		do(200, "POST", "/users/"+bob+"/disable", admin, "")
		do(200, "POST", "/users/"+bob+"/enable", admin, "")

		pen := do(201, "POST", "/products", admin, `{"sku":"PEN-1","name":"Pen","description":"Blue.","price":299,"currency":"USD","category":"stationery"}`)["id"].(string)
		cup := do(201, "POST", "/products", admin, `{"sku":"CUP-1","name":"Cup","price":500,"currency":"USD"}`)["id"].(string)
		do(200, "GET", "/products?limit=1&category=stationery&q=pen", "", "")
		do(200, "GET", "/products/"+pen, "", "")
		do(200, "PATCH", "/products/"+pen, admin, `{"price":349}`)
		do(200, "POST", "/inventory/"+pen, admin, `{"quantity":10}`)
		do(200, "DELETE", "/inventory/"+pen, admin, `{"quantity":1}`)
		do(200, "GET", "/inventory/"+pen, "", "")
		do(204, "DELETE", "/products/"+cup, admin, "")

		order := fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":2}]}`, pen)
		paid := do(201, "POST", "/orders", ada, order, "Idempotency-Key", "contract-1")["id"].(string)
		do(402, "POST", "/orders/"+paid+"/pay", ada, `{"card_number":"4000 0000 0000 0002"}`)
		do(200, "POST", "/orders/"+paid+"/pay", ada, `{"card_number":"4242 4242 4242 4242"}`)
		do(200, "POST", "/orders/"+paid+"/refund", admin, "")
		cancelled := do(201, "POST", "/orders", ada, order)["id"].(string)
		do(200, "POST", "/orders/"+cancelled+"/cancel", ada, "")
		do(200, "GET", "/orders/"+cancelled, ada, "")
		do(200, "GET", "/orders?limit=1", ada, "")
		// A few refusals, which must be documented too.
		do(409, "POST", "/orders", ada, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":99}]}`, pen))
		do(401, "GET", "/orders", "", "")
		do(403, "GET", "/users", ada, "")
		do(404, "GET", "/orders/nope", ada, "")
		do(400, "GET", "/products?limit=1000", "", "")
		do(404, "GET", "/no/such/route", "", "")

		if missed := c.Missed(); len(missed) > 0 {
			t.Fatalf("operations of the document no exchange used: %v", missed)
		}
	})
}
