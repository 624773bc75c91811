package cache

// Progress receives progress reports from Populate and Verify;
// stages.Progress satisfies it.
type Progress interface {
	Total(n int64, unit string)
	Add(n int64)
	Status(text string)
}

// NopProgress ignores progress reports.
type NopProgress struct{}

// Total implements Progress.
func (NopProgress) Total(int64, string) {}

// Add implements Progress.
func (NopProgress) Add(int64) {}

// Status implements Progress.
func (NopProgress) Status(string) {}
