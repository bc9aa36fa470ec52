//! Subject, stream, consumer and bucket names (wire helper).
