//go:build !cgo

package hw

import "context"

type noNVML struct{}

func defaultProbe() GPUProbe { return noNVML{} }

func (noNVML) Probe(context.Context) ([]Device, string, error) { return nil, "", ErrNVMLNotBuilt }
