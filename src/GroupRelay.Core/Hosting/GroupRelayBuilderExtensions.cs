using System;
using GroupRelay.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GroupRelay;

/// <summary>Add-ons for <see cref="IGroupRelayBuilder"/>.</summary>
public static class GroupRelayBuilderExtensions
{
    /// <summary>Uses <typeparamref name="TSource"/> (created by DI as a singleton) as the membership source.</summary>
    /// <typeparam name="TSource">The host's membership source.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddMembershipSource<TSource>(this IGroupRelayBuilder builder)
        where TSource : class, IMembershipSource
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMembershipSource(ServiceDescriptor.Singleton<IMembershipSource, TSource>());
    }

    /// <summary>Uses <paramref name="source"/> as the membership source.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="source">The membership source instance.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddMembershipSource(this IGroupRelayBuilder builder, IMembershipSource source)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(source);
        return builder.AddMembershipSource(ServiceDescriptor.Singleton(source));
    }

    /// <summary>Uses the membership source a factory creates (once, as a singleton).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the membership source.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddMembershipSource(this IGroupRelayBuilder builder, Func<IServiceProvider, IMembershipSource> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        return builder.AddMembershipSource(ServiceDescriptor.Singleton(factory));
    }

    /// <summary>Uses <typeparamref name="TPolicy"/> to decide whose presence a user may watch.</summary>
    /// <typeparam name="TPolicy">The host's presence policy.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddPresencePolicy<TPolicy>(this IGroupRelayBuilder builder)
        where TPolicy : class, IPresencePolicy
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IPresencePolicy, TPolicy>());
        return builder;
    }

    /// <summary>
    /// Adds <typeparamref name="TFilter"/> (created by DI as a singleton) to the message filters: it sees every client
    /// <c>send</c> before its <c>seq</c> is assigned and may accept, replace or refuse it (see <see cref="IMessageFilter"/>).
    /// Filters run in the order they were added; adding the same type twice adds it once.
    /// </summary>
    /// <typeparam name="TFilter">The host's filter.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddMessageFilter<TFilter>(this IGroupRelayBuilder builder)
        where TFilter : class, IMessageFilter
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IMessageFilter, TFilter>());
        return builder;
    }

    /// <summary>Adds <paramref name="filter"/> to the message filters (see <see cref="AddMessageFilter{TFilter}(IGroupRelayBuilder)"/>).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="filter">The filter instance.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddMessageFilter(this IGroupRelayBuilder builder, IMessageFilter filter)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(filter);
        builder.Services.AddSingleton(filter);
        return builder;
    }

    /// <summary>
    /// Adds <typeparamref name="TObserver"/> (created by DI as a singleton) to the message observers: it is told of every
    /// accepted message after its <c>seq</c> is assigned, off the send path (see <see cref="IMessageObserver"/>). Adding
    /// the same type twice adds it once.
    /// </summary>
    /// <typeparam name="TObserver">The host's observer.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddMessageObserver<TObserver>(this IGroupRelayBuilder builder)
        where TObserver : class, IMessageObserver
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IMessageObserver, TObserver>());
        return builder;
    }

    /// <summary>Adds <paramref name="observer"/> to the message observers (see <see cref="AddMessageObserver{TObserver}(IGroupRelayBuilder)"/>).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="observer">The observer instance.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddMessageObserver(this IGroupRelayBuilder builder, IMessageObserver observer)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(observer);
        builder.Services.AddSingleton(observer);
        return builder;
    }

    // Every overload funnels here, so there is one place that decides how a source replaces another.
    private static IGroupRelayBuilder AddMembershipSource(this IGroupRelayBuilder builder, ServiceDescriptor descriptor)
    {
        builder.Services.Replace(descriptor);
        return builder;
    }
}
