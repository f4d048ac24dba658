package traffic

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// The pattern PodFromBody implements by hand.
var helloRe = regexp.MustCompile(`Hello version: (\S+), instance: (\S+)`)

func podFromBodyRegexp(body string) string {
	m := helloRe.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[2]
}

func TestPodFromBodyMatchesRegexp(t *testing.T) {
	cases := []string{
		"",
		HelloBody("helloworld-v1-abc12-x1y2z"),
		"Hello version: v1, instance: p1\n",
		"Hello version: v1, instance: \n",
		"Hello version: , instance: p\n",
		"Hello version: ,, instance: p",
		"Hello version: v1,instance: p",
		"Hello version: v1, instance: p\tq",
		"Hello version: v\v1, instance: p\vq\fr",
		"xx Hello version: a b, instance: p Hello version: v2, instance: second",
		"Hello version: Hello version: v1, instance: p",
		"Hello version: v1, instance: é\xffpod tail",
		"no healthy upstream",
		"upstream connect error or disconnect/reset before headers. reset reason: connection failure",
	}
	for _, c := range cases {
		if got, want := PodFromBody(c), podFromBodyRegexp(c); got != want {
			t.Errorf("PodFromBody(%q) = %q, regexp gives %q", c, got, want)
		}
	}
	// Random bodies built from the pattern's pieces and separators.
	pieces := []string{"Hello version: ", ", instance: ", "v1", ",", " ", "\t", "\n", "\r", "\f", "\v", "pod-a", "x", "Hello", "é", "\xff"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		var b []byte
		for n := rng.IntN(8); n >= 0; n-- {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		c := string(b)
		if got, want := PodFromBody(c), podFromBodyRegexp(c); got != want {
			t.Fatalf("PodFromBody(%q) = %q, regexp gives %q", c, got, want)
		}
	}
}

func BenchmarkPodFromBody(b *testing.B) {
	body := HelloBody("helloworld-region1-zone1-7d4b9c-x2k9p")
	for b.Loop() {
		if PodFromBody(body) == "" {
			b.Fatal("no pod")
		}
	}
}
