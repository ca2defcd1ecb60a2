//! The backend conformance kit (feature `testkit`): the same semantic tests
//! run against any [`Storage`](crate::storage::Storage).
