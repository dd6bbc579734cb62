// Package motoserver starts and stops moto's server (the AWS stand-in the tests and
// the dev stack use) on a free 127.0.0.1 port, by its process id, with a small
// speed-up patch for moto's slowest paths; and serialises DynamoDB requests where
// moto needs it. internal/testenv (tests) and chatter dev both start moto here.
package motoserver
