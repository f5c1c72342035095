// @peculiar/x509 registers its algorithms with tsyringe, which refuses to load without the
// `reflect-metadata` polyfill. It reads and writes only a few metadata keys, so these three
// functions on a WeakMap are all it needs; a full polyfill would be one more dependency.
const store = new WeakMap<object, Map<unknown, unknown>>();
const reflect = Reflect as unknown as Record<string, unknown>;

function getOwnMetadata(key: unknown, target: object): unknown {
  return store.get(target)?.get(key);
}

reflect.getOwnMetadata ??= getOwnMetadata;
reflect.getMetadata ??= (key: unknown, target: object): unknown => {
  for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
    const value = getOwnMetadata(key, t);
    if (value !== undefined) return value;
  }
  return undefined;
};
reflect.defineMetadata ??= (key: unknown, value: unknown, target: object): void => {
  let map = store.get(target);
  if (!map) {
    map = new Map();
    store.set(target, map);
  }
  map.set(key, value);
};
