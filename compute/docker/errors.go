package docker

import "errors"

// ErrNoImage is returned when a job names neither an image nor a framework.
var ErrNoImage = errors.New("docker: the job names no image and no framework")
