package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// The generated catalogue: products of a general store across a dozen
// categories, named like real listings ("Halden Relaxed Organic Cotton
// Hoodie, Sage") and described in three to five sentences drawn from a few
// hundred phrases, so word frequencies look like a shop's: a handful of
// words in a large share of the products (cotton, steel, black), most in
// few. Each description also names a collection, from a long tail of made-up
// names whose popularity falls off as Zipf's law has it, so some words are
// found in only a few products.

// category is one department: its name (as products carry it), the kinds of
// product it sells and the materials they are made of.
type category struct {
	name      string
	nouns     []string
	materials []string
}

var categories = []category{
	{"apparel", split("T-Shirt, Hoodie, Sweater, Jacket, Jeans, Chinos, Shorts, Dress, Skirt, Blouse, Shirt, Cardigan, Coat, Vest, Leggings, Polo Shirt, Beanie, Scarf, Gloves, Socks, Pyjamas, Raincoat"),
		split("Cotton, Organic Cotton, Linen, Wool, Merino Wool, Cashmere, Denim, Fleece, Corduroy, Jersey, Recycled Polyester, Silk, Flannel")},
	{"footwear", split("Sneakers, Boots, Sandals, Loafers, Slippers, Trainers, Hiking Boots, Running Shoes, Clogs, Espadrilles, Chelsea Boots, Flip-Flops"),
		split("Leather, Suede, Canvas, Rubber, Mesh, Nubuck, Cork, Recycled Plastic, Wool Felt")},
	{"kitchen", split("Mug, Teapot, Kettle, Frying Pan, Saucepan, Chef's Knife, Cutting Board, Colander, Whisk, Spatula, Mixing Bowl, French Press, Espresso Cup, Baking Tray, Grater, Ladle, Tongs, Salad Spinner, Butter Dish, Tea Towel, Dutch Oven, Pepper Mill"),
		split("Stainless Steel, Cast Iron, Ceramic, Porcelain, Stoneware, Bamboo, Oak, Walnut, Glass, Silicone, Copper, Enamel, Beech")},
	{"home", split("Cushion, Throw Blanket, Duvet Cover, Table Lamp, Candle, Vase, Picture Frame, Rug, Curtain, Wall Mirror, Wall Clock, Bookshelf, Storage Basket, Doormat, Bath Towel, Pillowcase, Laundry Hamper"),
		split("Cotton, Linen, Wool, Jute, Rattan, Oak, Pine, Glass, Ceramic, Velvet, Brass, Marble, Soy Wax")},
	{"garden", split("Watering Can, Trowel, Pruning Shears, Planter, Garden Hose, Bird Feeder, Seed Tray, Garden Gloves, Rake, Wheelbarrow, Plant Pot, Compost Bin, Hedge Trimmer"),
		split("Galvanised Steel, Terracotta, Recycled Plastic, Cedar, Zinc, Stainless Steel, Ash Wood, Rubber, Concrete")},
	{"electronics", split("Headphones, Earbuds, Bluetooth Speaker, Charger, Power Bank, USB-C Cable, Keyboard, Mouse, Webcam, Monitor Stand, Smart Plug, Desk Lamp, Phone Case, Laptop Sleeve"),
		split("Aluminium, Recycled Plastic, Silicone, Braided Nylon, Glass, Walnut, Leather, Carbon Fibre")},
	{"sports", split("Yoga Mat, Dumbbell, Kettlebell, Water Bottle, Resistance Band, Jump Rope, Tennis Racket, Football, Cycling Jersey, Gym Bag, Foam Roller, Swim Goggles, Climbing Chalk Bag"),
		split("Natural Rubber, Cork, Neoprene, Stainless Steel, Cast Iron, Recycled Polyester, Nylon, Carbon Fibre, Foam")},
	{"toys", split("Jigsaw Puzzle, Building Blocks, Plush Bear, Board Game, Kite, Toy Car, Rag Doll, Train Set, Marbles, Stacking Rings, Spinning Top, Dollhouse, Xylophone"),
		split("Beech Wood, Organic Cotton, Recycled Cardboard, Felt, Glass, Maple, Natural Rubber, Tin")},
	{"beauty", split("Shampoo, Conditioner, Face Cream, Lip Balm, Soap Bar, Body Lotion, Hair Brush, Nail Polish, Eau de Parfum, Sunscreen, Face Serum, Bath Salts"),
		split("Shea Butter, Argan Oil, Aloe Vera, Coconut Oil, Lavender, Rosehip, Oat, Charcoal, Beeswax, Vitamin C")},
	{"stationery", split("Notebook, Fountain Pen, Pencil Set, Weekly Planner, Sketchbook, Envelope Set, Desk Organiser, Highlighter, Ruler, Sticky Notes, Greeting Card, Ink Bottle, Bullet Journal"),
		split("Recycled Paper, Kraft Paper, Brass, Leather, Cork, Linen, Aluminium, Graphite, Cotton Paper")},
	{"outdoors", split("Tent, Sleeping Bag, Backpack, Headlamp, Camping Stove, Hammock, Trekking Poles, Rain Jacket, Compass, Cooler Box, Camping Mug, Bivvy Bag"),
		split("Ripstop Nylon, Down, Titanium, Aluminium, Merino Wool, Recycled Polyester, Waxed Canvas, Gore-Tex")},
	{"pets", split("Dog Collar, Cat Bed, Dog Leash, Pet Bowl, Chew Toy, Scratching Post, Bird Cage, Aquarium Filter, Dog Shampoo, Treat Pouch, Cat Carrier, Dog Harness"),
		split("Nylon, Leather, Hemp, Natural Rubber, Stainless Steel, Sisal, Fleece, Recycled Plastic, Oatmeal")},
}

var (
	adjectives = split("Classic, Essential, Everyday, Premium, Vintage, Slim, Relaxed, Lightweight, Heavy-Duty, Compact, Ergonomic, Handmade, Artisan, Minimalist, Rustic, Modern, Nordic, Heritage, Ultra-Soft, Waterproof, Insulated, Foldable, Portable, Oversized, Cosy, Retro, Deluxe, Signature, Organic, Travel, Studio, Urban, Alpine, Coastal")
	colours    = split("Black, White, Navy, Grey, Charcoal, Olive, Sage, Forest Green, Burgundy, Mustard, Terracotta, Sand, Cream, Blush, Sky Blue, Cobalt, Teal, Rust, Ivory, Plum, Coral, Stone, Ochre, Midnight, Natural")
	sizes      = split("XS, S, M, L, XL, XXL, 250 ml, 350 ml, 500 ml, 1 l, 20 cm, 24 cm, 28 cm, Small, Medium, Large, Set of 2, Set of 4, Pack of 6")
	places     = split("Copenhagen, Lisbon, Kyoto, Portland, Edinburgh, Oslo, Milan, Melbourne, Montreal, Seoul, Barcelona, Vienna, Cape Town, Antwerp, Brooklyn, Helsinki")
	countries  = split("Portugal, Italy, Japan, India, Vietnam, Turkey, Poland, Germany, Spain, Peru, Mexico, Sweden, Morocco, Romania, Taiwan, Lithuania")
	benefits   = split("all-day comfort, years of daily use, a perfect fit, easy care, a softer feel wash after wash, quick drying, everyday adventures, long weekends away, a calmer morning routine, small spaces, busy kitchens, the whole family, gifting, cold winter mornings, warm summer evenings")
	features   = split("reinforced seams, a lifetime guarantee, a non-slip base, a magnetic clasp, adjustable straps, double stitching, a removable lid, hidden pockets, a brushed finish, a water-repellent coating, a soft-touch handle, an easy-grip design, a hand-polished edge, recycled packaging, a reversible design, a padded lining")
	verbs      = split("keeps its shape, works just as well indoors as out, softens with age, travels well, stacks neatly, cleans in seconds, fits in any bag, lasts for years, goes with everything, packs flat, stays cool to the touch, holds its colour")
	closings   = split("Machine washable at 30 degrees., Dishwasher safe., Hand wash only., Wipe clean with a damp cloth., Comes with a two-year warranty., Ships in plastic-free packaging., Made to order in small batches., Certified by an independent lab., Free returns within 30 days., Each piece is slightly different.")
	syllables  = split("al, ba, bel, bri, ca, dor, el, en, fa, fen, gar, hal, ia, is, ka, kor, la, lin, lo, mar, mer, mi, na, nor, o, pa, ra, ren, ri, sa, sel, sen, ta, tal, tor, u, va, ven, vi, wen, ya, zo")
)

// split turns a comma-separated list into its trimmed items.
func split(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// product is one generated row, in the columns the catalogue stores.
type product struct {
	id, sku, name, description, currency, category string
	price                                          int64
	created                                        time.Time
	collection                                     string // the collection its description names, if any
}

// generator makes the catalogue, reproducibly for a seed.
type generator struct {
	rng         *rand.Rand
	brands      []string
	collections []string
	zipf        *rand.Zipf
	entropy     *ulid.MonotonicEntropy
	start       time.Time
	n           int
}

// collectionCount is the size of the long tail of collection names.
const collectionCount = 200_000

func newGenerator(seed uint64) *generator {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &generator{rng: rng, start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	seen := map[string]bool{}
	word := func(parts int) string {
		for tries := 0; ; tries++ {
			var b strings.Builder
			for range parts + tries/100 {
				b.WriteString(syllables[rng.IntN(len(syllables))])
			}
			w := b.String()
			if !seen[w] && len(w) >= 5 {
				seen[w] = true
				return strings.ToUpper(w[:1]) + w[1:]
			}
		}
	}
	for range 600 {
		g.brands = append(g.brands, word(2+rng.IntN(2)))
	}
	for range collectionCount {
		g.collections = append(g.collections, word(3+rng.IntN(2)))
	}
	g.zipf = rand.NewZipf(rng, 1.07, 2, collectionCount-1)
	g.entropy = ulid.Monotonic(newByteReader(rng), 0)
	return g
}

// byteReader feeds the ULID entropy from the generator's random source, so
// the IDs are reproducible too.
type byteReader struct{ rng *rand.Rand }

func newByteReader(rng *rand.Rand) *byteReader { return &byteReader{rng} }

func (r *byteReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.rng.Uint32())
	}
	return len(p), nil
}

func (g *generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// next returns the next product: one every 25 ms from the start of 2024, so
// IDs (ULIDs) and creation times rise together as in a real shop.
func (g *generator) next() product {
	g.n++
	cat := categories[g.rng.IntN(len(categories))]
	brand, adj, material, noun := g.pick(g.brands), g.pick(adjectives), g.pick(cat.materials), g.pick(cat.nouns)
	var name strings.Builder
	fmt.Fprintf(&name, "%s %s %s %s", brand, adj, material, noun)
	switch g.rng.IntN(4) {
	case 0:
		fmt.Fprintf(&name, ", %s", g.pick(colours))
	case 1:
		fmt.Fprintf(&name, ", %s, %s", g.pick(colours), g.pick(sizes))
	case 2:
		fmt.Fprintf(&name, ", %s", g.pick(sizes))
	}
	lower := strings.ToLower(noun)
	collection := g.collections[g.zipf.Uint64()]
	collectionSentence := fmt.Sprintf("Part of the %s collection by %s.", collection, brand)
	sentences := []string{
		fmt.Sprintf("Made from %s for %s.", strings.ToLower(material), g.pick(benefits)),
		fmt.Sprintf("This %s %s %s.", strings.ToLower(adj), lower, g.pick(verbs)),
		fmt.Sprintf("Designed in %s and made in %s.", g.pick(places), g.pick(countries)),
		fmt.Sprintf("Features %s and %s.", g.pick(features), g.pick(features)),
		collectionSentence,
		fmt.Sprintf("Available in %s and %s.", strings.ToLower(g.pick(colours)), strings.ToLower(g.pick(colours))),
		fmt.Sprintf("Pairs well with our %s %s.", strings.ToLower(g.pick(cat.materials)), strings.ToLower(g.pick(cat.nouns))),
	}
	g.rng.Shuffle(len(sentences)-1, func(i, j int) { sentences[i+1], sentences[j+1] = sentences[j+1], sentences[i+1] })
	keep := 4 + g.rng.IntN(3)
	if !slices.Contains(sentences[:keep], collectionSentence) {
		collection = ""
	}
	desc := strings.Join(sentences[:keep], " ") + " " + g.pick(closings)

	created := g.start.Add(time.Duration(g.n) * 25 * time.Millisecond)
	id := strings.ToLower(ulid.MustNew(ulid.Timestamp(created), g.entropy).String())
	price := int64(math.Round(math.Exp(g.rng.NormFloat64()*0.9+7.8)/100))*100 - 1
	return product{
		id:          id,
		sku:         fmt.Sprintf("%s-%07d", strings.ToUpper(cat.name[:3]), g.n),
		name:        name.String(),
		description: desc,
		price:       max(price, 99),
		currency:    "USD",
		category:    cat.name,
		created:     created,
		collection:  collection,
	}
}
