// Tests in test/ use the same helpers as the libraries' own tests.
export { services, uniqueName, cassandraClient, createKeyspace, type ServicesInfo } from "@devenv/testing";
