package device

// Importing many devices: every row is checked first (id, duplicates, role and
// group on the target), then the good rows run in parallel, several workers
// per core. The CA runs in batch mode (ca.CA.DeferSync): index lines are
// synced, the files of each device are written atomically but not synced one
// by one. Every flushEvery devices and at the end the file system is synced
// and then the dynamic security file saved, so a saved client always has its
// certificate's files on disk. A crash loses at most the clients of the last
// batch (and, on a power cut, files not yet synced); their certificates are in
// the index, and the next run completes them (re-issuing when the files are
// gone).

import (
	"context"
	"runtime"
	"sort"
	"sync"
)

// flushEvery is how many devices go into the dynamic security file at once.
const flushEvery = 500

// workersPerCore: a device is CPU (key, signature, the p12's key
// derivation, the kernel's work for its four new files) and a wait for its
// synced index line, which concurrent devices share; so more devices than
// cores are in flight. 8 per core measured best on a 2-core machine (2000
// devices, every file synced: 21 s with 2 workers, 5.7 s with 16, 8.8 s
// with 64).
const workersPerCore = 8

// ImportOptions tune Import.
type ImportOptions struct {
	// Workers is the number of devices made at once; 0 is workersPerCore
	// per core.
	Workers int
	// Progress, when set, is told of every finished device.
	Progress Progress
	// Context, when set, stops the import when it is done (SIGINT): devices
	// in flight are finished, the dynamic security file is saved, and the
	// rest is left for a re-run.
	Context context.Context
}

// Summary is the outcome of an import.
type Summary struct {
	Total     int
	Added     int
	Completed int
	Skipped   int
	// NotStarted counts the devices an interruption left for a re-run.
	NotStarted int
	// Failed lists the rows that failed, in line order: bad lines and
	// devices whose onboarding failed (and was rolled back).
	Failed []RowError
}

// Import onboards rows (from ParseCSV) and reports bad, the rows ParseCSV
// refused, among the failures. Rows whose role or group does not exist fail
// without touching anything.
func (o *Onboarder) Import(rows []Row, bad []RowError, opt ImportOptions) (Summary, error) {
	sum := Summary{Total: len(rows) + len(bad), Failed: append([]RowError(nil), bad...)}
	good, failed, err := o.checkRows(rows)
	if err != nil {
		return sum, err
	}
	sum.Failed = append(sum.Failed, failed...)

	workers := opt.Workers
	if workers <= 0 {
		workers = workersPerCore * runtime.NumCPU()
	}
	prog := opt.Progress
	if prog == nil {
		prog = nopProgress{}
	}
	prog.Start(sum.Total)
	prog.Done(len(bad) + len(failed))

	// Batch mode: the files of each device are written atomically but not
	// synced one by one; the whole file system is synced before each save of
	// the dynamic security file and at the end, so a saved client always has
	// its certificate's files on disk (the index lines are synced anyway).
	o.CA.DeferSync(true)
	defer o.CA.DeferSync(false)
	flush := func() error {
		if err := o.CA.Sync(); err != nil {
			return err
		}
		return o.Target.Flush()
	}

	jobs := make(chan Row)
	type done struct {
		row Row
		res Result
		err error
	}
	results := make(chan done)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				res, err := o.add(r.Spec)
				results <- done{r, res, err}
			}
		}()
	}
	ctx := opt.Context
	if ctx == nil {
		ctx = context.Background()
	}
	notStarted := 0
	go func() {
	feed:
		for i, r := range good {
			select {
			case jobs <- r:
			case <-ctx.Done():
				notStarted = len(good) - i
				break feed
			}
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()

	var flushErr error
	n := 0
	for d := range results {
		switch {
		case d.err != nil:
			sum.Failed = append(sum.Failed, RowError{Line: d.row.Line, ID: d.row.Spec.ID, Err: d.err})
		case d.res.Outcome == Added:
			sum.Added++
		case d.res.Outcome == Completed:
			sum.Completed++
		default:
			sum.Skipped++
		}
		prog.Done(1)
		if n++; n%flushEvery == 0 && flushErr == nil {
			flushErr = flush()
		}
	}
	prog.Finish()
	sum.NotStarted = notStarted // written before results was closed
	if flushErr == nil {
		flushErr = flush()
	}
	sort.Slice(sum.Failed, func(i, j int) bool { return sum.Failed[i].Line < sum.Failed[j].Line })
	return sum, flushErr
}

// checkRows checks each distinct role and group once on the target.
func (o *Onboarder) checkRows(rows []Row) (good []Row, bad []RowError, err error) {
	roles := map[string]bool{}
	groups := map[string]bool{}
	for _, r := range rows {
		s := r.Spec
		if s.Role == "" {
			bad = append(bad, RowError{Line: r.Line, ID: s.ID, Err: errNoRole})
			continue
		}
		ok, seen := roles[s.Role]
		if !seen {
			_, ok, err = getRole(o.Target, s.Role)
			if err != nil {
				return nil, nil, err
			}
			roles[s.Role] = ok
		}
		if !ok {
			bad = append(bad, RowError{Line: r.Line, ID: s.ID, Err: unknownRole(s.Role)})
			continue
		}
		if s.Group != "" {
			ok, seen := groups[s.Group]
			if !seen {
				if ok, err = groupExists(o.Target, s.Group); err != nil {
					return nil, nil, err
				}
				groups[s.Group] = ok
			}
			if !ok {
				bad = append(bad, RowError{Line: r.Line, ID: s.ID, Err: unknownGroup(s.Group)})
				continue
			}
		}
		good = append(good, r)
	}
	return good, bad, nil
}
