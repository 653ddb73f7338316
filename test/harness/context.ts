import { inject } from "vitest";
export interface ServicesInfo { cassandra: { contactPoint: string; localDataCenter: string }; moto: { endpoint: string }; postgres: { url: string } }
declare module "vitest" { export interface ProvidedContext { services: ServicesInfo } }
export function services(): ServicesInfo { return inject("services"); }
