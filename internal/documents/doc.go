// Package documents is the home of the document pipeline's pure parts: extract
// (file bytes to text), chunk (text to overlapping chunks), terms (the one
// tokenizer), embed (chunks to vectors, and their storage encoding) and search
// (hybrid BM25 + vector ranking over chunks held in memory). None of them touches
// storage or HTTP; the ingest Lambda and the API wire them to S3 and DynamoDB.
package documents
