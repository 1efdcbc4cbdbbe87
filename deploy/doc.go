// Package deploy holds the tests of kitshop's deployment files: the
// Dockerfile and .dockerignore at the repository's root, compose.yaml beside
// them, and the Kubernetes manifests under deploy/kubernetes. It has no code
// of its own; run its tests with
//
//	go -C deploy test ./...
//
// They read those files with the loaders the tools use (the Compose
// specification's Go loader, the Kubernetes API types), and build and run
// every example binary exactly as the image does.
package deploy
