// Command documents-ingest is the ingest function: S3's "Object Created" for the
// documents bucket, through an EventBridge rule on the default bus, extracts,
// chunks, embeds and stores the document (see package library).
package main

import "github.com/chatterhq/chatter/internal/lambdaapp/docsapp"

func main() { docsapp.StartIngest() }
