package gemini

import (
	"errors"
	"strings"
)

// imageExts guesses an image URL's media type from its extension.
var imageExts = map[string]string{".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif", ".gif": "image/gif"}

// PartFromURL returns the part that gives Gemini the media at url: a
// base64 data: URL becomes inlineData with its media type; an https URL
// becomes fileData, which Gemini fetches (Google's file input guide
// documents public and signed HTTPS URLs), with the media type guessed
// from an image extension or else left for Gemini to find. Any other URL
// is an error saying why.
func PartFromURL(url string) (Part, error) {
	switch {
	case strings.HasPrefix(url, "data:"):
		meta, data, ok := strings.Cut(url[len("data:"):], ",")
		params := strings.Split(meta, ";")
		if !ok || len(params) < 2 || params[len(params)-1] != "base64" || params[0] == "" {
			return Part{}, errors.New("only base64 data: URLs with a media type can be sent to Gemini")
		}
		return Part{InlineData: &Blob{MimeType: strings.ToLower(params[0]), Data: data}}, nil
	case strings.HasPrefix(url, "https://"):
		path, _, _ := strings.Cut(url, "?")
		mt := ""
		if i := strings.LastIndexByte(path, '.'); i > strings.LastIndexByte(path, '/') {
			mt = imageExts[strings.ToLower(path[i:])]
		}
		return Part{FileData: &FileData{MimeType: mt, FileURI: url}}, nil
	}
	return Part{}, errors.New("Gemini takes media as base64 data: URLs or https URLs")
}
