package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockInfo is what the lock file records about its holder.
type LockInfo struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Start time.Time `json:"start"`
}

// LockedError is returned when another pipe holds the state's lock.
type LockedError struct {
	Path string
	Info LockInfo
}

// Error implements error.
func (e *LockedError) Error() string {
	return fmt.Sprintf("the state is locked by pipe PID %d on host %s (since %s; lock file %s). Wait for it to finish; if that process is gone, run pipe unlock",
		e.Info.PID, e.Info.Host, e.Info.Start.Local().Format("2006-01-02 15:04:05"), e.Path)
}

// Lock is a held lock file.
type Lock struct {
	path string
	info LockInfo
}

// lockName is the lock file's name inside the state directory.
const lockName = "lock"

// acquireLock creates the lock file at path, atomically (a complete file is
// linked into place). A lock left by a dead process of this host is taken
// over, reported through warn.
func acquireLock(path string, warn func(string)) (*Lock, error) {
	host, _ := os.Hostname()
	info := LockInfo{PID: os.Getpid(), Host: host, Start: time.Now().UTC()}
	data, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, info.PID)
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write lock file: %w", err)
	}
	defer os.Remove(tmp)
	for try := 0; try < 2; try++ {
		err := os.Link(tmp, path)
		if err == nil {
			return &Lock{path: path, info: info}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create lock file: %w", err)
		}
		held, rerr := ReadLock(filepath.Dir(path))
		if rerr != nil {
			return nil, fmt.Errorf("lock file %s exists and cannot be read (%v); if no pipe is running, run pipe unlock", path, rerr)
		}
		if held == nil {
			continue // released meanwhile
		}
		if held.Host != host || processAlive(held.PID) {
			return nil, &LockedError{Path: path, Info: *held}
		}
		if warn != nil {
			warn(fmt.Sprintf("taking over the stale lock of pipe PID %d on %s (since %s): that process is gone",
				held.PID, held.Host, held.Start.Local().Format("2006-01-02 15:04:05")))
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale lock: %w", err)
		}
	}
	return nil, fmt.Errorf("could not take the lock %s", path)
}

// Release removes the lock file if it is still ours.
func (l *Lock) Release() error {
	held, err := ReadLock(filepath.Dir(l.path))
	if err != nil || held == nil || held.PID != l.info.PID || held.Host != l.info.Host {
		return nil
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

// ReadLock returns the lock of the state directory dir, nil when there is
// none.
func ReadLock(dir string) (*LockInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, lockName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var info LockInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("lock file %s: %w", filepath.Join(dir, lockName), err)
	}
	return &info, nil
}

// Unlock removes the lock of the state directory dir whoever holds it and
// returns what it recorded (nil when there was none). It refuses when the
// holder is a live process of this host.
func Unlock(dir string) (*LockInfo, error) {
	info, err := ReadLock(dir)
	if err != nil {
		// Unreadable: remove it anyway, it protects nothing.
		return nil, os.Remove(filepath.Join(dir, lockName))
	}
	if info == nil {
		return nil, nil
	}
	host, _ := os.Hostname()
	if info.Host == host && processAlive(info.PID) {
		return info, &LockedError{Path: filepath.Join(dir, lockName), Info: *info}
	}
	if err := os.Remove(filepath.Join(dir, lockName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return info, err
	}
	return info, nil
}

// processAlive reports whether pid is a live process of this host.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// LockHolder returns the lock of the state directory dir and whether its
// holder may be running: a live process of this host, or any process of
// another host (which cannot be checked from here).
func LockHolder(dir string) (*LockInfo, bool) {
	info, err := ReadLock(dir)
	if err != nil || info == nil {
		return info, false
	}
	host, _ := os.Hostname()
	return info, info.Host != host || processAlive(info.PID)
}
