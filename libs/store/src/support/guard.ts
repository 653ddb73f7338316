import { translateError } from "./translate-error.ts";

/**
 * Wraps every method of a repository so that whatever a query throws reaches the
 * caller as a StoreError naming the operation ("instances.transition"). One wrapper
 * instead of a try/catch in each method. `beforeCall` may refuse a call by throwing.
 */
export function guard<T extends object>(name: string, repo: T, beforeCall?: (operation: string) => void): T {
  return new Proxy(repo, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string") return value;
      const operation = `${name}.${property}`;
      return (...args: unknown[]) => {
        try {
          beforeCall?.(operation);
          const result: unknown = value.apply(target, args);
          return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(translateError(error, operation))) : result;
        } catch (error) {
          throw translateError(error, operation);
        }
      };
    },
  });
}
