package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/simulation"
)

// newRootCmd builds the command tree writing to out and errOut, so tests run it in process.
func newRootCmd(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "ciro-sim",
		Short:         "Discrete-event simulation of the Ciro market on its real state machine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(runCmd(out, errOut), sweepCmd(out, errOut), validateCmd(out), reportCmd(out))
	return root
}

type runFlags struct {
	out      string
	output   string
	point    int
	workers  int
	progress bool
}

func (f *runFlags) bind(c *cobra.Command) {
	c.Flags().StringVar(&f.out, "out", "", "output folder (required)")
	c.Flags().StringVar(&f.output, "output", "text", "what to print: text or json")
	c.Flags().IntVar(&f.workers, "workers", 0, "replicates run at once (0: one per CPU)")
	c.Flags().BoolVar(&f.progress, "progress", true, "report progress on stderr")
	_ = c.MarkFlagRequired("out")
}

func (f *runFlags) check() error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output is text or json, not %q", f.output)
	}
	return nil
}

// progressPrinter prints each replicate's progress every tenth of its run.
func progressPrinter(w io.Writer, label string) func(int, float64) {
	var mu sync.Mutex
	last := map[int]int{}
	return func(rep int, frac float64) {
		mu.Lock()
		defer mu.Unlock()
		step := int(frac * 10)
		if step > last[rep] {
			last[rep] = step
			fmt.Fprintf(w, "%s replicate %d: %d%%\n", label, rep, step*10)
		}
	}
}

func runCmd(out, errOut io.Writer) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run FILE --out DIR",
		Short: "Run a scenario (one sweep point) and write its folder",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			file, err := simulation.LoadFile(args[0])
			if err != nil {
				return err
			}
			points, err := file.Points()
			if err != nil {
				return err
			}
			if f.point < 0 || f.point >= len(points) {
				return fmt.Errorf("--point %d: the scenario has %d sweep points (0..%d)", f.point, len(points), len(points)-1)
			}
			return runPoint(cmd, points[f.point], f.out, &f, out, errOut)
		},
	}
	f.bind(c)
	c.Flags().IntVar(&f.point, "point", 0, "which sweep point to run")
	return c
}

type runReport struct {
	Folder  string                    `json:"folder"`
	Point   int                       `json:"point"`
	Set     []simulation.Assignment   `json:"set,omitempty"`
	WallS   float64                   `json:"wall_s"`
	Summary []simulation.SummaryEntry `json:"summary"`
}

func runPoint(cmd *cobra.Command, p *simulation.Point, dir string, f *runFlags, out, errOut io.Writer) error {
	opts := simulation.Options{Workers: f.workers}
	if f.progress {
		opts.Progress = progressPrinter(errOut, fmt.Sprintf("point %d", p.Index))
	}
	start := time.Now()
	res, err := simulation.Run(cmd.Context(), p, opts)
	if err != nil {
		return err
	}
	if err := simulation.Write(dir, res); err != nil {
		return err
	}
	rep := runReport{Folder: dir, Point: p.Index, Set: p.Set, WallS: time.Since(start).Seconds(), Summary: res.Summary}
	if f.output == "json" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	}
	fmt.Fprintf(out, "wrote %s (point %d, %.1fs)\n", dir, p.Index, rep.WallS)
	for _, e := range res.Summary {
		fmt.Fprintf(out, "  %-36s %12.6g  [%.6g, %.6g]\n", e.Name, e.Mean, e.CILow, e.CIHigh)
	}
	return nil
}

func sweepCmd(out, errOut io.Writer) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "sweep FILE --out DIR",
		Short: "Run every sweep point (or one, to shard) into DIR/point-NNN and draw the report",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			file, err := simulation.LoadFile(args[0])
			if err != nil {
				return err
			}
			points, err := file.Points()
			if err != nil {
				return err
			}
			if f.point >= len(points) {
				return fmt.Errorf("--point %d: the scenario has %d sweep points (0..%d)", f.point, len(points), len(points)-1)
			}
			for _, p := range points {
				if f.point >= 0 && p.Index != f.point {
					continue
				}
				if err := runPoint(cmd, p, simulation.PointDir(f.out, p.Index), &f, out, errOut); err != nil {
					return err
				}
			}
			if f.point >= 0 {
				return nil // a shard: `ciro-sim report` draws the whole sweep once all are in
			}
			return simulation.Report(f.out)
		},
	}
	f.bind(c)
	c.Flags().IntVar(&f.point, "point", -1, "run only this sweep point (a shard); -1 runs all and draws the report")
	return c
}

func validateCmd(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a scenario file: unknown keys and bad values are named with their line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := simulation.LoadFile(args[0])
			if err != nil {
				return err
			}
			points, err := file.Points()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "%s: ok, %d sweep point(s)\n", args[0], len(points))
			return err
		},
	}
}

func reportCmd(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR",
		Short: "Draw a sweep's report from its point-NNN folders (for instance after a sharded sweep)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := simulation.Report(args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(out, "wrote %s/index.html\n", args[0])
			return err
		},
	}
}
