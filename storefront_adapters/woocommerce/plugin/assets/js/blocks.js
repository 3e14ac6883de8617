/**
 * Voltbridge in the WooCommerce Cart and Checkout blocks: registers the payment method with the title,
 * description and icon the server handed over (getSetting( 'voltbridge_data' )). Plain ES5 and the globals
 * WordPress provides, so the plugin ships without a build step.
 */
( function ( wc, wp ) {
	'use strict';

	var settings = wc.wcSettings.getSetting( 'voltbridge_data', {} );
	var el = wp.element.createElement;
	var decode = wp.htmlEntities.decodeEntities;
	var __ = wp.i18n.__;
	var title = decode( settings.title || '' ) || __( 'Crypto (SOL, USDC, USDT)', 'voltbridge-woocommerce' );
	var description = decode( settings.description || '' );

	function Label() {
		var parts = [];
		if ( settings.icon ) {
			parts.push( el( 'img', { key: 'icon', src: settings.icon, alt: '', width: 24, height: 24,
				style: { marginRight: '8px', verticalAlign: 'middle' } } ) );
		}
		parts.push( el( 'span', { key: 'title' }, title ) );
		return el( 'span', { className: 'voltbridge-blocks-label' }, parts );
	}

	function Content() {
		return el( 'p', { className: 'voltbridge-blocks-description' }, description );
	}

	wc.wcBlocksRegistry.registerPaymentMethod( {
		name: 'voltbridge',
		label: el( Label, null ),
		content: el( Content, null ),
		edit: el( Content, null ),
		canMakePayment: function () {
			return true; // the server already left the method out where it cannot be used (is_active)
		},
		ariaLabel: title,
		supports: { features: settings.supports || [ 'products' ] }
	} );
}( window.wc, window.wp ) );
