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

// Lock is a held lock file. Besides its content (who holds it) the holder
// keeps an flock on it, which the kernel releases when the holder dies,
// whatever happens to its PID afterwards.
type Lock struct {
	path string
	info LockInfo
	f    *os.File // open, flocked
}

// lockName is the lock file's name inside the state directory.
const lockName = "lock"

// lockGrace: a lock file younger than this whose flock is free is taken
// as held (its creator links it, then flocks it).
const lockGrace = 2 * time.Second

// acquireLock creates the lock file at path, atomically (a complete file is
// linked into place), and flocks it. A lock left by a dead process of this
// host — its PID gone, or its flock free (the PID reused by another
// program) — is taken over, reported through warn.
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
	for try := 0; try < 3; try++ {
		err := os.Link(tmp, path)
		if err == nil {
			f, err := os.Open(path)
			if err != nil {
				os.Remove(path)
				return nil, fmt.Errorf("open lock file: %w", err)
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				f.Close()
				os.Remove(path)
				return nil, fmt.Errorf("flock %s: %w", path, err)
			}
			return &Lock{path: path, info: info, f: f}, nil
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
		if held.Host != host {
			return nil, &LockedError{Path: path, Info: *held}
		}
		why := "that process is gone"
		if processAlive(held.PID) {
			if flockHeld(path) || time.Since(held.Start) < lockGrace {
				return nil, &LockedError{Path: path, Info: *held}
			}
			why = "that PID now belongs to a process that does not hold the lock"
		}
		if warn != nil {
			warn(fmt.Sprintf("taking over the stale lock of pipe PID %d on %s (since %s): %s",
				held.PID, held.Host, held.Start.Local().Format("2006-01-02 15:04:05"), why))
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale lock: %w", err)
		}
	}
	return nil, fmt.Errorf("could not take the lock %s", path)
}

// flockHeld reports whether some process holds an flock on the file at
// path (false when it cannot tell: absent, unreadable).
func flockHeld(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// Release removes the lock file if it is still ours and drops the flock.
func (l *Lock) Release() error {
	defer l.f.Close()
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
// holder is a live pipe of this host (its PID alive and the flock held).
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
	if info.Host == host && processAlive(info.PID) && (flockHeld(filepath.Join(dir, lockName)) || time.Since(info.Start) < lockGrace) {
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
	return info, info.Host != host || (processAlive(info.PID) && (flockHeld(filepath.Join(dir, lockName)) || time.Since(info.Start) < lockGrace))
}
