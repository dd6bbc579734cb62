// Package rietest runs chatter's built Lambda bootstraps under the AWS Lambda
// Runtime Interface Emulator (aws-lambda-rie, built into ./bin by `make rie`, run
// by internal/rie) against moto, invoked with the events/ samples: chat, a CRUD
// pair, the on-event-record subscriber and the chat-stream Function URL's streaming
// response. It holds tests only; it also logs each function's init time and binary
// size.
package rietest
