package usage

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// trickyStrings exercise every escape encoding/json makes.
var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "héllo wörld ✓ 日本", "line\u2028sep\u2029para", "bad \xff\xfe utf8 \xc3", "emoji 🧠",
}

var trickyFloats = []float64{0, 1, -1, 0.5, 123.456, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 1.2345e22, -3e-9, math.MaxFloat64, math.SmallestNonzeroFloat64}

// filled returns a Record with every field set from rng: strings from
// trickyStrings (never empty, so omitempty fields appear), numbers and
// booleans non-zero. A field added to Record is filled too, so a field
// appendEntry forgets fails TestAppendMatchesMarshal.
func filled(rng *rand.Rand) Record {
	var r Record
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(trickyStrings[1+rng.IntN(len(trickyStrings)-1)])
		case reflect.Int, reflect.Int64:
			f.SetInt(rng.Int64N(1<<40) - 1<<39)
		case reflect.Float64:
			f.SetFloat(trickyFloats[rng.IntN(len(trickyFloats))])
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Pointer: // Cost
			c := trickyFloats[rng.IntN(len(trickyFloats))]
			f.Set(reflect.ValueOf(&c))
		case reflect.Struct: // Time
			f.Set(reflect.ValueOf(time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(time.FixedZone("", 3600*(rng.IntN(27)-13)))))
		default:
			panic("filled: a Record field of kind " + f.Kind().String())
		}
	}
	return r
}

func TestAppendMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := []Record{{}, {Time: time.Now()}}
	for range 500 {
		recs = append(recs, filled(rng))
	}
	for i, r := range recs {
		for _, phase := range []string{phaseEnd, phaseBegin, phaseSkip} {
			want, err := json.Marshal(entry{Phase: phase, Record: r})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendEntry(nil, phase, &r); !bytes.Equal(got, want) {
				t.Fatalf("record %d, phase %q:\n got %s\nwant %s", i, phase, got, want)
			}
		}
		b := beginEntry{Phase: phaseBegin, Time: r.Time, RequestID: r.RequestID, User: r.User, Project: r.Project, Client: r.Client,
			Hostname: r.Hostname, EdgeID: r.EdgeID, Ingress: r.Ingress, Method: r.Method, Path: r.Path, Model: r.Model}
		if i == 0 {
			b = beginEntry{Phase: phaseSkip, RequestID: "req-1"}
		}
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendBeginEntry(nil, &b); !bytes.Equal(got, want) {
			t.Fatalf("begin %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range trickyFloats {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return // Finish makes numbers finite first
		}
		want, _ := json.Marshal(map[string]float64{"x": v})
		got := append(append([]byte("{"), appendFloatField(nil, "x", v)[1:]...), '}') // drop the leading comma
		if !bytes.Equal(got, want) {
			t.Fatalf("%v:\n got %s\nwant %s", v, got, want)
		}
	})
}
