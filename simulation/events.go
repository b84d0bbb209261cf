package simulation

import "container/heap"

// eventKind says what happens when an event fires.
type eventKind uint8

const (
	evBlock      eventKind = iota + 1 // the proposer forms and executes a block
	evArrival                         // a client's next job arrives
	evTxArrive                        // a transaction reaches the proposer's mempool
	evWorkDone                        // a provider finished (or gave up on) an assignment
	evReprice                         // a provider revisits its asks
	evCopyGiveUp                      // a lazy copier found nothing to copy in time
)

// event is one entry of the queue. Events fire in (at, seq) order: seq is the order of
// scheduling, so two events at the same tick fire in the order they were scheduled and a run
// is reproducible.
type event struct {
	at    int64 // virtual milliseconds since the start
	seq   uint64
	kind  eventKind
	agent int32 // index into the engine's provider or client list
	job   uint64
	slot  int32
	tx    *pendingTx
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// queue is the virtual clock's event queue.
type queue struct {
	h   eventHeap
	seq uint64
}

func (q *queue) push(e event) {
	q.seq++
	e.seq = q.seq
	heap.Push(&q.h, e)
}

func (q *queue) pop() (event, bool) {
	if len(q.h) == 0 {
		return event{}, false
	}
	return heap.Pop(&q.h).(event), true
}
