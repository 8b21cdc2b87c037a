export { buildModels, DEFAULT_CACHE_DIR, DEFAULT_REPOSITORY, type BuildModelsOptions, type BuiltArtifact, type BuiltModel } from './build.ts';
export { BUILT_IN_RECIPES } from './recipes/registry.ts';
export { RECIPE_VERSION, type ModelRecipe } from './recipes/recipe.ts';
