package catalog

import (
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// SearchWords splits a search text into the words ListProducts looks for:
// the text is put in Unicode normal form C (so a letter typed as a base
// letter and a combining accent is the accented letter), then every longest
// run of letters and digits (Unicode categories L and N) is a word, in the
// order typed. Everything else, spaces, punctuation, symbols, quotes,
// operators of any query language, combining marks left over and private-use
// characters, only separates words: "T-shirt" is the words "T" and "shirt",
// and `"NEAR(a*` the words "NEAR" and "a". A text with no letter or digit has
// no words. Case and accents are kept; the store folds them.
func SearchWords(text string) []string {
	text = norm.NFC.String(text)
	var words []string
	start := -1
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			words = append(words, text[start:i])
			start = -1
		}
	}
	if start >= 0 {
		words = append(words, text[start:])
	}
	return words
}
