package hw

import (
	"fmt"
	"strings"
)

// GPUClass is a row of the GPU classes of docs/protocol.md: claimed earnings per GPU-hour in US cents, and
// claimed jobs per hour at a utilisation (percent).
type GPUClass struct {
	Name          string `json:"name"`
	LowCentsHour  int64  `json:"low_cents_per_hour"`
	HighCentsHour int64  `json:"high_cents_per_hour"`
	JobsPerHour   int64  `json:"jobs_per_hour"`
	UtilPercent   int64  `json:"utilization_percent"`
}

// Classes is the table of docs/protocol.md. Integers only: cents, percent.
var Classes = []GPUClass{
	{"RTX 3080", 40, 80, 45, 89},
	{"RTX 4090", 80, 160, 73, 85},
	{"A100", 150, 300, 94, 71},
	{"H100", 220, 450, 127, 78},
}

// ClassOf matches a GPU model name to a class ("NVIDIA H100 80GB HBM3" → "H100"), or "".
func ClassOf(name string) string {
	n := strings.ToUpper(strings.Join(strings.Fields(name), " "))
	for _, c := range Classes {
		if strings.Contains(n, strings.ToUpper(c.Name)) {
			return c.Name
		}
	}
	return ""
}

// Earnings is the estimate for the machine: the sum over GPUs of the claimed range (docs/protocol.md), and
// a day at the class's claimed utilisation.
type Earnings struct {
	Known         bool   `json:"known"`
	LowCentsHour  int64  `json:"low_cents_per_hour"`
	HighCentsHour int64  `json:"high_cents_per_hour"`
	LowCentsDay   int64  `json:"low_cents_per_day"`  // 24 h × utilisation
	HighCentsDay  int64  `json:"high_cents_per_day"` // 24 h × utilisation
	JobsPerHour   int64  `json:"jobs_per_hour"`
	Note          string `json:"note,omitempty"`
}

// Estimate sums the classes of the devices. GPUs of no class are left out, and said so.
func Estimate(devs []Device) Earnings {
	var e Earnings
	unknown := 0
	for _, d := range devs {
		var c *GPUClass
		for i := range Classes {
			if Classes[i].Name == d.Class {
				c = &Classes[i]
			}
		}
		if c == nil {
			unknown++
			continue
		}
		e.Known = true
		e.LowCentsHour += c.LowCentsHour
		e.HighCentsHour += c.HighCentsHour
		// Rounded down to the cent.
		e.LowCentsDay += c.LowCentsHour * 24 * c.UtilPercent / 100
		e.HighCentsDay += c.HighCentsHour * 24 * c.UtilPercent / 100
		e.JobsPerHour += c.JobsPerHour
	}
	switch {
	case len(devs) == 0:
		e.Note = "CPU-only: there is no GPU-class earnings estimate; WASM and model-runtime jobs are priced by the market"
	case unknown > 0:
		e.Note = fmt.Sprintf("%d GPU(s) match no known GPU class (RTX 3080, RTX 4090, A100, H100) and are not counted", unknown)
	}
	return e
}

func dollars(c int64) string { return fmt.Sprintf("$%d.%02d", c/100, c%100) }

// Text renders the estimate in one line.
func (e Earnings) Text() string {
	if !e.Known {
		return "none (" + e.Note + ")"
	}
	s := fmt.Sprintf("%s–%s per hour, %s–%s per day at the classes' claimed utilisation, about %d jobs/h",
		dollars(e.LowCentsHour), dollars(e.HighCentsHour), dollars(e.LowCentsDay), dollars(e.HighCentsDay), e.JobsPerHour)
	if e.Note != "" {
		s += " (" + e.Note + ")"
	}
	return s
}
