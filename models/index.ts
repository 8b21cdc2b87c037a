/** The models package's public API: building the built-in models, and reading a model repository. */
export { buildModels, DEFAULT_CACHE_DIR, DEFAULT_REPOSITORY, type BuildModelsOptions, type BuiltArtifact, type BuiltModel } from './build.ts';
export { artifactFile, listModelVersions, readArtifact, readEnvelope, versionDir, type RepositoryEntry } from './repository.ts';
export { BUILT_IN_RECIPES } from './recipes/registry.ts';
export { RECIPE_VERSION, type ModelRecipe } from './recipes/recipe.ts';
