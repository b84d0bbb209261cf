//go:build !cgo

package hw

import (
	"context"
	"strings"
	"testing"
)

func TestNoCGOSaysNVMLNotBuilt(t *testing.T) {
	rep, err := Detect(context.Background(), Options{Root: t.TempDir()})
	if err != nil || !rep.CPUOnly || !strings.Contains(rep.Message, "NVML is not built into this binary") {
		t.Fatalf("%v %+v", err, rep)
	}
}
