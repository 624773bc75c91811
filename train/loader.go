package train

import (
	"context"
	"fmt"
	"sync"

	"github.com/pipeml/pipe/cache"
)

// Batch is one micro-batch of windows: X is (len(Windows), channels,
// length) and Y the per-sample seizure labels (len(Windows), length).
type Batch struct {
	// Seq numbers the batch within its loader, from 0.
	Seq     int
	Windows []int
	X, Y    []float32
	Err     error
}

// Loader reads batches of windows ahead of the trainer with a pool of
// workers. Batches come out in order whatever the scheduling; each is
// returned to the loader with Release once consumed so its buffers are
// reused (memory stays at about prefetch+2 batches).
type Loader struct {
	out    chan *Batch
	free   chan *Batch
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewLoader starts reading batches of size batch from windows (taken in
// order; the last batch may be short), prefetch batches ahead, each read
// by up to workers goroutines.
func NewLoader(ctx context.Context, ds *cache.Dataset, windows []int, batch, workers, prefetch int) *Loader {
	ctx, cancel := context.WithCancel(ctx)
	l := &Loader{out: make(chan *Batch, prefetch), free: make(chan *Batch, prefetch+2), cancel: cancel}
	c, w := len(ds.Channels()), ds.WindowSamples()
	for i := 0; i < prefetch+2; i++ {
		l.free <- &Batch{X: make([]float32, batch*c*w), Y: make([]float32, batch*w)}
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(l.out)
		for seq, at := 0, 0; at < len(windows); seq, at = seq+1, at+batch {
			var b *Batch
			select {
			case b = <-l.free:
			case <-ctx.Done():
				return
			}
			idx := windows[at:min(at+batch, len(windows))]
			b.Seq, b.Windows, b.Err = seq, idx, nil
			b.X, b.Y = b.X[:len(idx)*c*w], b.Y[:len(idx)*w]
			b.Err = readBatch(ctx, ds, idx, b.X, b.Y, c*w, w, workers)
			select {
			case l.out <- b:
			case <-ctx.Done():
				return
			}
			if b.Err != nil {
				return
			}
		}
	}()
	return l
}

// readBatch reads windows idx into x and labels into y with up to workers
// goroutines; each window has a fixed slot, so the result does not depend
// on scheduling.
func readBatch(ctx context.Context, ds *cache.Dataset, idx []int, x, y []float32, xs, ys, workers int) error {
	errs := make([]error, len(idx))
	next := make(chan int)
	var wg sync.WaitGroup
	for k := 0; k < min(workers, len(idx)); k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if err := ds.ReadWindow(idx[j], x[j*xs:(j+1)*xs]); err != nil {
					errs[j] = fmt.Errorf("read window %d: %w", idx[j], err)
					continue
				}
				if err := ds.WindowLabels(idx[j], y[j*ys:(j+1)*ys]); err != nil {
					errs[j] = fmt.Errorf("labels of window %d: %w", idx[j], err)
				}
			}
		}()
	}
	var err error
feed:
	for j := range idx {
		select {
		case next <- j:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return err
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Next returns the next batch, or nil at the end (or after Close).
func (l *Loader) Next(ctx context.Context) (*Batch, error) {
	select {
	case b, ok := <-l.out:
		if !ok {
			return nil, ctx.Err()
		}
		return b, b.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Release hands a consumed batch's buffers back to the loader.
func (l *Loader) Release(b *Batch) {
	if b == nil {
		return
	}
	select {
	case l.free <- b:
	default:
	}
}

// Close stops the loader and waits for its goroutines.
func (l *Loader) Close() {
	l.cancel()
	l.wg.Wait()
}
